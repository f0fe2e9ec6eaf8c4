"""Whether a call's details page must be fetched again, from what the store knows of it.

A crawl asks once per source (:func:`known_details`) and then decides per topic
(:func:`details_due`), so unchanged topics cost no request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import FundingCall, utcnow

DEFAULT_DETAILS_MAX_AGE_DAYS = 7.0


@dataclass(frozen=True)
class KnownDetails:
    """What the store knows of a call's details, for deciding whether to fetch them again."""

    record_hash: str
    details_fetched_at: datetime | None
    details_missing: bool


def known_details(session: Session, source: str) -> dict[str, KnownDetails]:
    """``source_id -> KnownDetails`` for the live calls of ``source``.

    Withdrawn calls are left out: one that comes back gets its details fetched afresh.
    """
    rows = session.execute(
        select(
            FundingCall.source_id,
            FundingCall.record_hash,
            FundingCall.details_fetched_at,
            FundingCall.details_missing,
        ).where(FundingCall.source == source, FundingCall.withdrawn_at.is_(None))
    )
    return {
        source_id: KnownDetails(record_hash or "", fetched_at, bool(missing))
        for source_id, record_hash, fetched_at, missing in rows
    }


def details_due(
    known: KnownDetails | None,
    record_hash: str,
    *,
    max_age_days: float = DEFAULT_DETAILS_MAX_AGE_DAYS,
    now: datetime | None = None,
) -> str:
    """Why a call's details must be fetched this run, or ``""`` when the stored ones stand.

    Reasons: ``new`` (not stored), ``missing`` (the last request failed), ``changed`` (the
    search record's hash differs), ``stale`` (fetched more than ``max_age_days`` ago;
    ``0`` fetches every time, so nothing is ever skipped).
    """
    if known is None:
        return "new"
    if known.details_missing:
        return "missing"
    if not record_hash or known.record_hash != record_hash:
        return "changed"
    if known.details_fetched_at is None or max_age_days <= 0:
        return "stale"
    if (now or utcnow()) - known.details_fetched_at >= timedelta(days=max_age_days):
        return "stale"
    return ""
