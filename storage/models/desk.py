"""Profiles, match runs and matches, the desk's reviews with their timeline, and its work queue."""

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
    APPLICANT_TYPES,
    MATCH_RUN_OUTCOMES,
    PROFILE_KINDS,
    REVIEW_STATUSES,
    WORK_KINDS,
    WORK_STATES,
    Base,
    one_of,
    utcnow,
)
from storage.models.calls import FundingCall
from storage.models.people import User


# --- profiles and matching ----------------------------------------------------------------
class Profile(Base):
    """A city project or a partner organisation that calls are matched against."""

    __tablename__ = "profiles"
    __table_args__ = (
        one_of("kind", PROFILE_KINDS, "kind"),
        one_of("applicant_type", APPLICANT_TYPES, "applicant_type"),
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
    __table_args__ = (one_of("outcome", MATCH_RUN_OUTCOMES, "outcome"),)

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
        # Never reuse the id of a deleted match on SQLite: links to a match must not come
        # to point at another one (PostgreSQL's sequences never reuse ids anyway).
        {"sqlite_autoincrement": True},
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
    # When this call first matched this profile; kept across re-matches, so the desk's
    # "new since my last visit" means new, not re-ranked.
    first_matched_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    profile: Mapped[Profile] = relationship()
    call: Mapped[FundingCall] = relationship()


class Review(Base):
    """Where the service desk stands with a call for a profile (the pipeline)."""

    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("profile_id", "call_id"),
        one_of("status", REVIEW_STATUSES, "status"),
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
    """One entry of a review's timeline: a note, a status change or a new assignee.

    Entries are only ever added, never edited: the history is the record of who decided what.
    """

    __tablename__ = "review_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text, default="")
    old_status: Mapped[str | None] = mapped_column(String(16))
    new_status: Mapped[str | None] = mapped_column(String(16))
    # The assignee before and after, as shown (a person's name or a department).
    old_assignee: Mapped[str | None] = mapped_column(String(320))
    new_assignee: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    review: Mapped[Review] = relationship(back_populates="notes")
    author: Mapped[User | None] = relationship()


class WorkItem(Base):
    """A piece of work the web app asked for (re-rank a profile, crawl a source now).

    Recorded here and done by the scheduler, so a web request never forks, crawls or
    re-matches; its state is shown on the page that asked for it.
    """

    __tablename__ = "work_items"
    __table_args__ = (
        one_of("kind", WORK_KINDS, "kind"),
        one_of("state", WORK_STATES, "state"),
        Index("ix_work_items_state_kind", "state", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    profile_id: Mapped[int | None] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    source_slug: Mapped[str | None] = mapped_column(ForeignKey("sources.slug", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(200), default="")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
