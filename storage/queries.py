"""Query functions shared by the crawler, the matcher, the web app and the scheduler.

Each takes a session and returns plain model objects; none commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, String, cast, func, or_, select
from sqlalchemy.orm import Session, selectinload

from storage.models import (
    APPLICANT_TYPES,
    CrawlRun,
    FundingCall,
    Profile,
    Source,
    User,
    utcnow,
)


@dataclass(frozen=True)
class CallFilter:
    """What a person searches for; empty fields filter nothing."""

    text: str = ""
    statuses: Sequence[str] = ()
    source: str = ""
    funder_type: str = ""
    applicant_type: str = ""
    language: str = ""


def _filtered(stmt: Select, flt: CallFilter, now: datetime) -> Select:  # type: ignore[type-arg]
    if flt.text:
        like = f"%{flt.text.lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(FundingCall.title).like(like),
                func.lower(FundingCall.summary).like(like),
                func.lower(FundingCall.call_identifier).like(like),
                func.lower(FundingCall.programme).like(like),
            )
        )
    if flt.statuses:
        conditions = []
        wanted = set(flt.statuses)
        if "withdrawn" in wanted:
            conditions.append(FundingCall.withdrawn_at.is_not(None))
        live = FundingCall.withdrawn_at.is_(None)
        if "closed" in wanted:
            conditions.append(live & (FundingCall.status == "closed"))
        still_running = wanted & {"open", "forthcoming"}
        if still_running:
            conditions.append(
                live
                & FundingCall.status.in_(still_running)
                & (FundingCall.next_deadline_at.is_(None) | (FundingCall.next_deadline_at >= now))
            )
        stmt = stmt.where(or_(*conditions))
    if flt.source:
        stmt = stmt.where(FundingCall.source == flt.source)
    if flt.funder_type:
        stmt = stmt.where(FundingCall.funder_type == flt.funder_type)
    if flt.language:
        stmt = stmt.where(FundingCall.language == flt.language)
    if flt.applicant_type in APPLICANT_TYPES:
        # The list is stored as JSON text on both databases; a quoted vocabulary word is
        # unambiguous. Calls whose eligibility is unknown (empty list) are kept.
        as_text = cast(FundingCall.eligible_applicants, String)
        stmt = stmt.where(or_(as_text.like(f'%"{flt.applicant_type}"%'), as_text == "[]"))
    return stmt


def search_calls(
    session: Session,
    flt: CallFilter | None = None,
    *,
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
) -> tuple[list[FundingCall], int]:
    """A page of calls (soonest deadline first) and the total number that match ``flt``."""
    flt = flt or CallFilter()
    now = now or utcnow()
    base = _filtered(select(FundingCall), flt, now)
    calls = list(
        session.scalars(
            base.options(selectinload(FundingCall.deadlines))
            .order_by(
                FundingCall.next_deadline_at.is_(None), FundingCall.next_deadline_at, FundingCall.id
            )
            .limit(limit)
            .offset(offset)
        )
    )
    total = session.scalar(_filtered(select(func.count(FundingCall.id)), flt, now)) or 0
    return calls, total


def get_call(session: Session, call_id: int) -> FundingCall | None:
    """One call with its deadlines and change history, or None."""
    return session.scalar(
        select(FundingCall)
        .where(FundingCall.id == call_id)
        .options(selectinload(FundingCall.deadlines), selectinload(FundingCall.changes))
    )


def active_profiles(session: Session) -> list[Profile]:
    """The profiles that take part in matching, by name."""
    return list(session.scalars(select(Profile).where(Profile.active).order_by(Profile.name)))


def latest_crawl_runs(session: Session, limit: int = 20) -> list[CrawlRun]:
    """The most recent crawl runs, newest first, with their sources loaded."""
    return list(
        session.scalars(
            select(CrawlRun)
            .options(selectinload(CrawlRun.source))
            .order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc())
            .limit(limit)
        )
    )


def user_by_email(session: Session, email: str) -> User | None:
    """The user with ``email``, compared without regard to case, or None."""
    return session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def get_source(session: Session, slug: str) -> Source | None:
    """The source with ``slug``, or None."""
    return session.scalar(select(Source).where(Source.slug == slug))
