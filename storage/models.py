"""Typed SQLAlchemy 2 models for the whole domain.

Conventions: singular class names, plural table names, constraint names from one naming
convention (so migrations are stable on SQLite and PostgreSQL), timestamps are UTC and end in
``_at``, calendar dates are ``date``. Closed vocabularies are plain strings guarded by CHECK
constraints; the allowed values live in the tuples below, so Python and the database agree.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# --- vocabularies -------------------------------------------------------------------------
FUNDER_TYPES = ("eu", "federal", "state", "municipal", "foundation", "other")
CALL_STATUSES = ("forthcoming", "open", "closed", "withdrawn")
DEADLINE_MODELS = ("single", "two_stage", "multiple_cutoff", "rolling", "recurring", "none")
# One vocabulary for who may apply, onto which every source's terms are mapped.
APPLICANT_TYPES = (
    "municipality",
    "public_body",
    "ngo",
    "company",
    "research",
    "education",
    "individual",
)
PROFILE_KINDS = ("project", "partner")
CRAWL_OUTCOMES = ("running", "succeeded", "partial", "failed")
MATCH_RUN_OUTCOMES = ("running", "succeeded", "failed")
REVIEW_STATUSES = (
    "new",
    "reviewing",
    "shortlisted",
    "forwarded",
    "applying",
    "submitted",
    "awarded",
    "rejected",
    "not_relevant",
)
USER_ROLES = ("admin", "desk", "staff")
SUBSCRIPTION_KINDS = ("profile", "search", "call")
FREQUENCIES = ("immediate", "daily", "weekly")
NOTIFICATION_KINDS = ("confirm", "digest", "change", "reminder")
NOTIFICATION_STATES = ("pending", "sent", "failed")
LANGUAGES = ("de", "en")


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware.

    SQLite keeps no offset, PostgreSQL keeps ``timestamptz``; both give back aware UTC values.
    Naive values are refused: they are a bug, not a guess to make.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: foerderdesk stores aware UTC timestamps")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _one_of(
    column: str, values: tuple[str, ...], name: str, nullable: bool = False
) -> CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    condition = f"{column} IN ({allowed})"
    if nullable:
        condition = f"{column} IS NULL OR {condition}"
    return CheckConstraint(condition, name=name)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


# --- sources and crawls -------------------------------------------------------------------
class Source(Base):
    """A place calls come from; mirrors the entry in the sources file."""

    __tablename__ = "sources"
    __table_args__ = (_one_of("funder_type", FUNDER_TYPES, "funder_type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    spider: Mapped[str] = mapped_column(String(64))
    funder_type: Mapped[str] = mapped_column(String(16), default="other")
    language: Mapped[str] = mapped_column(String(8), default="de")
    schedule: Mapped[str] = mapped_column(String(64), default="0 3 * * *")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    crawl_runs: Mapped[list[CrawlRun]] = relationship(back_populates="source")


class CrawlRun(Base):
    """One run of one spider: what it fetched, stored, dropped and how it ended."""

    __tablename__ = "crawl_runs"
    __table_args__ = (_one_of("outcome", CRAWL_OUTCOMES, "outcome"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(16), default="running")
    reason: Mapped[str | None] = mapped_column(Text)
    mirror: Mapped[str | None] = mapped_column(String(500))
    requests: Mapped[int] = mapped_column(Integer, default=0)
    items_seen: Mapped[int] = mapped_column(Integer, default=0)
    calls_new: Mapped[int] = mapped_column(Integer, default=0)
    calls_updated: Mapped[int] = mapped_column(Integer, default=0)
    calls_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    calls_withdrawn: Mapped[int] = mapped_column(Integer, default=0)
    dropped: Mapped[dict[str, Any]] = mapped_column(default=dict)  # reason -> count
    errors: Mapped[int] = mapped_column(Integer, default=0)
    details_fetched: Mapped[int] = mapped_column(Integer, default=0)
    details_skipped: Mapped[int] = mapped_column(Integer, default=0)  # unchanged records
    details_missing: Mapped[int] = mapped_column(Integer, default=0)  # failed; stored anyway
    duration_seconds: Mapped[float | None] = mapped_column(Float)

    source: Mapped[Source] = relationship(back_populates="crawl_runs")


# --- calls --------------------------------------------------------------------------------
class FundingCall(Base):
    """One funding opportunity (an EU topic, a federal programme, a foundation call...)."""

    __tablename__ = "funding_calls"
    __table_args__ = (
        UniqueConstraint("source", "source_id"),
        _one_of("funder_type", FUNDER_TYPES, "funder_type"),
        _one_of("status", CALL_STATUSES, "status"),
        _one_of("deadline_model", DEADLINE_MODELS, "deadline_model"),
        Index("ix_funding_calls_status_next_deadline", "status", "next_deadline_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(ForeignKey("sources.slug", ondelete="CASCADE"))
    source_id: Mapped[str] = mapped_column(String(300))
    url: Mapped[str] = mapped_column(String(2000))
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")  # sanitised HTML
    description_text: Mapped[str] = mapped_column(Text, default="")  # plain text, for matching
    conditions: Mapped[str] = mapped_column(Text, default="")  # sanitised HTML: who may apply
    language: Mapped[str] = mapped_column(String(8), default="en")
    funder: Mapped[str] = mapped_column(String(300), default="")
    funder_type: Mapped[str] = mapped_column(String(16), default="other")
    programme: Mapped[str] = mapped_column(String(300), default="")
    call_identifier: Mapped[str] = mapped_column(String(300), default="", index=True)
    type_of_action: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    status_source: Mapped[str] = mapped_column(String(64), default="")
    opening_date: Mapped[date | None] = mapped_column(Date)
    deadline_model: Mapped[str] = mapped_column(String(16), default="single")
    next_deadline_at: Mapped[datetime | None]
    budget_eur: Mapped[int | None] = mapped_column(BigInteger)
    grant_min_eur: Mapped[int | None] = mapped_column(BigInteger)
    grant_max_eur: Mapped[int | None] = mapped_column(BigInteger)
    expected_grants: Mapped[int | None] = mapped_column(Integer)
    funding_rate: Mapped[float | None] = mapped_column(Float)  # percent of eligible costs
    eligible_applicants: Mapped[list[str]] = mapped_column(default=list)
    eligibility_inferred: Mapped[bool] = mapped_column(Boolean, default=False)
    # Per applicant type: "stated" (the call's own text says so) or "inferred" (a rule).
    eligibility_evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    eligibility_rule: Mapped[str] = mapped_column(String(200), default="")  # the rule's id
    # Consortium: None where the call does not say.
    min_partners: Mapped[int | None] = mapped_column(Integer)
    min_countries: Mapped[int | None] = mapped_column(Integer)
    single_applicant: Mapped[bool | None] = mapped_column(Boolean)
    eligible_countries: Mapped[list[str]] = mapped_column(default=list)  # ISO 3166 codes
    germany_eligible: Mapped[bool | None] = mapped_column(Boolean)
    # Details pages: a topic whose details failed is stored from its search record and
    # fetched again; an unchanged search record (same hash) needs no new details request.
    details_missing: Mapped[bool] = mapped_column(Boolean, default=False)
    details_fetched_at: Mapped[datetime | None]
    record_hash: Mapped[str] = mapped_column(String(64), default="")
    regions: Mapped[list[str]] = mapped_column(default=list)
    keywords: Mapped[list[str]] = mapped_column(default=list)
    attribution: Mapped[str] = mapped_column(String(500), default="")
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]

    deadlines: Mapped[list[CallDeadline]] = relationship(
        back_populates="call", cascade="all, delete-orphan", order_by="CallDeadline.due_at"
    )
    changes: Mapped[list[CallChange]] = relationship(
        back_populates="call", cascade="all, delete-orphan", order_by="CallChange.changed_at"
    )


class CallDeadline(Base):
    """One deadline of a call: a stage of a two-stage call, a cut-off, or a yearly date."""

    __tablename__ = "call_deadlines"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(
        ForeignKey("funding_calls.id", ondelete="CASCADE"), index=True
    )
    due_at: Mapped[datetime | None]  # None for a recurring date without a year
    stage: Mapped[str] = mapped_column(String(32), default="")  # "1", "2", "cut-off 3", ...
    label: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Brussels")
    recurring_month_day: Mapped[str | None] = mapped_column(String(5))  # "09-30" each year
    raw: Mapped[str] = mapped_column(Text, default="")

    call: Mapped[FundingCall] = relationship(back_populates="deadlines")


class CallChange(Base):
    """A field of a call that changed between two crawls."""

    __tablename__ = "call_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(
        ForeignKey("funding_calls.id", ondelete="CASCADE"), index=True
    )
    crawl_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("crawl_runs.id", ondelete="SET NULL")
    )
    field: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    call: Mapped[FundingCall] = relationship(back_populates="changes")


# --- profiles and matching ----------------------------------------------------------------
class Profile(Base):
    """A city project or a partner organisation that calls are matched against."""

    __tablename__ = "profiles"
    __table_args__ = (
        _one_of("kind", PROFILE_KINDS, "kind"),
        _one_of("applicant_type", APPLICANT_TYPES, "applicant_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    themes: Mapped[list[str]] = mapped_column(default=list)
    keywords: Mapped[list[str]] = mapped_column(default=list)
    department: Mapped[str] = mapped_column(String(200), default="")  # city projects
    legal_form: Mapped[str] = mapped_column(String(200), default="")  # partner organisations
    applicant_type: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(16), default="DE-NI")
    language: Mapped[str] = mapped_column(String(8), default="de")
    budget_min_eur: Mapped[int | None] = mapped_column(BigInteger)
    budget_max_eur: Mapped[int | None] = mapped_column(BigInteger)
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    lead_time_days: Mapped[int] = mapped_column(Integer, default=28)
    partner_countries: Mapped[list[str]] = mapped_column(default=list)
    contact_email: Mapped[str] = mapped_column(String(320), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MatchRun(Base):
    """One re-ranking of calls for profiles; its matches replace the previous ones."""

    __tablename__ = "match_runs"
    __table_args__ = (_one_of("outcome", MATCH_RUN_OUTCOMES, "outcome"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    trigger: Mapped[str] = mapped_column(String(32), default="manual")
    outcome: Mapped[str] = mapped_column(String(16), default="running")
    profiles_count: Mapped[int] = mapped_column(Integer, default=0)
    calls_count: Mapped[int] = mapped_column(Integer, default=0)
    matches_count: Mapped[int] = mapped_column(Integer, default=0)
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    duration_seconds: Mapped[float | None] = mapped_column(Float)


class Match(Base):
    """A call ranked for a profile, with the reason a person can read."""

    __tablename__ = "matches"
    __table_args__ = (
        UniqueConstraint("profile_id", "call_id"),
        Index("ix_matches_profile_id_rank", "profile_id", "rank"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    match_run_id: Mapped[int] = mapped_column(
        ForeignKey("match_runs.id", ondelete="CASCADE"), index=True
    )
    profile_id: Mapped[int] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    call_id: Mapped[int] = mapped_column(
        ForeignKey("funding_calls.id", ondelete="CASCADE"), index=True
    )
    score: Mapped[float] = mapped_column(Float)
    rank: Mapped[int] = mapped_column(Integer)
    explanation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    eligibility_unknown: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    profile: Mapped[Profile] = relationship()
    call: Mapped[FundingCall] = relationship()


class Review(Base):
    """Where the service desk stands with a call for a profile (the pipeline)."""

    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("profile_id", "call_id"),
        _one_of("status", REVIEW_STATUSES, "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    call_id: Mapped[int] = mapped_column(
        ForeignKey("funding_calls.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="new")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    department: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    profile: Mapped[Profile] = relationship()
    call: Mapped[FundingCall] = relationship()
    assignee: Mapped[User | None] = relationship()
    notes: Mapped[list[ReviewNote]] = relationship(
        back_populates="review", cascade="all, delete-orphan", order_by="ReviewNote.created_at"
    )


class ReviewNote(Base):
    """A note on a review, or a status change; the history is never rewritten."""

    __tablename__ = "review_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text, default="")
    old_status: Mapped[str | None] = mapped_column(String(16))
    new_status: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    review: Mapped[Review] = relationship(back_populates="notes")
    author: Mapped[User | None] = relationship()


# --- people and mail ----------------------------------------------------------------------
class User(Base):
    """A person who logs in: service desk, city staff or administrator."""

    __tablename__ = "users"
    __table_args__ = (_one_of("role", USER_ROLES, "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(16), default="staff")
    department: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(8), default="de")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]


class Subscription(Base):
    """Someone who wants email: matches of a profile, a saved search, or one followed call.

    It sends nothing until ``confirmed_at`` is set (double opt-in) and nothing after
    ``unsubscribed_at``.
    """

    __tablename__ = "subscriptions"
    __table_args__ = (
        _one_of("kind", SUBSCRIPTION_KINDS, "kind"),
        _one_of("frequency", FREQUENCIES, "frequency"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))
    profile_id: Mapped[int | None] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("funding_calls.id", ondelete="CASCADE"))
    query: Mapped[dict[str, Any]] = mapped_column(default=dict)  # saved search parameters
    frequency: Mapped[str] = mapped_column(String(16), default="weekly")
    language: Mapped[str] = mapped_column(String(8), default="de")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    last_sent_at: Mapped[datetime | None]


class Notification(Base):
    """One message, written here before it is sent, so that it goes out exactly once."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("subscription_id", "kind", "period"),
        _one_of("kind", NOTIFICATION_KINDS, "kind"),
        _one_of("state", NOTIFICATION_STATES, "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    period: Mapped[str] = mapped_column(String(64))  # "2026-W47", "2026-11-21", "call 12 change 7"
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(500))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    subscription: Mapped[Subscription] = relationship()
