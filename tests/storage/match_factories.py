"""Stored matches for tests of the desk: a call ranked for a profile, as a re-match leaves it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import FundingCall, Match, MatchRun, Profile


def make_match(
    session: Session,
    profile: Profile,
    call: FundingCall,
    *,
    score: float = 0.3,
    rank: int = 1,
    first_matched_at: datetime | None = None,
    explanation: dict[str, Any] | None = None,
) -> Match:
    """A match of ``call`` for ``profile`` in the newest match run (one is made if none)."""
    run = session.scalar(select(MatchRun).order_by(MatchRun.id.desc()).limit(1))
    if run is None:
        run = MatchRun(outcome="succeeded")
        session.add(run)
        session.flush()
    match = Match(
        match_run_id=run.id,
        profile_id=profile.id,
        call_id=call.id,
        score=score,
        rank=rank,
        explanation=explanation if explanation is not None else {},
    )
    if first_matched_at is not None:
        match.first_matched_at = first_matched_at
    session.add(match)
    session.flush()
    return match
