"""Query functions shared by the crawler, the matcher, the web app and the scheduler.

Each takes a session and returns plain model objects; none commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from storage.models import (
    CrawlRun,
    FundingCall,
    Profile,
    Source,
    User,
)


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


def last_finished_run(session: Session, source_slug: str) -> CrawlRun | None:
    """The newest finished crawl run of a source (a running one says nothing yet), or None."""
    return session.scalar(
        select(CrawlRun)
        .join(Source, CrawlRun.source_id == Source.id)
        .where(Source.slug == source_slug, CrawlRun.outcome != "running")
        .order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc())
        .limit(1)
    )


def crawl_runs_since(session: Session, source_slug: str, since: datetime) -> list[CrawlRun]:
    """The runs of a source started at or after ``since``, newest first, their source loaded:
    what one crawl process recorded, for whoever started it."""
    return list(
        session.scalars(
            select(CrawlRun)
            .join(Source, CrawlRun.source_id == Source.id)
            .where(Source.slug == source_slug, CrawlRun.started_at >= since)
            .options(selectinload(CrawlRun.source))
            .order_by(CrawlRun.id.desc())
        )
    )
