"""Sources, their crawl runs, and the funding calls they yield (with deadlines and changes)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import (
    CALL_STATUSES,
    CRAWL_OUTCOMES,
    DEADLINE_MODELS,
    FUNDER_TYPES,
    Base,
    one_of,
    utcnow,
)


# --- sources and crawls -------------------------------------------------------------------
class Source(Base):
    """A place calls come from; mirrors the entry in the sources file."""

    __tablename__ = "sources"
    __table_args__ = (one_of("funder_type", FUNDER_TYPES, "funder_type"),)

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
    __table_args__ = (one_of("outcome", CRAWL_OUTCOMES, "outcome"),)

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
        one_of("funder_type", FUNDER_TYPES, "funder_type"),
        one_of("status", CALL_STATUSES, "status"),
        one_of("deadline_model", DEADLINE_MODELS, "deadline_model"),
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
