"""Data functions for matching: what the matcher reads and how its results are stored.

Pure data access: each function takes a session, none commits, and nothing here knows how
calls are scored. The matcher (``matcher.runs``) decides; these functions load and persist.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, select
from sqlalchemy.orm import Session, selectinload

from storage.deadlines import call_status
from storage.models import FundingCall, Match, MatchRun, Profile, Review, utcnow

# Review statuses that say "this call is relevant for this profile". A rejected application
# still means the desk judged the call worth applying to, so it counts as relevant too.
RELEVANT_STATUSES = frozenset(
    {"shortlisted", "forwarded", "applying", "submitted", "awarded", "rejected"}
)
NOT_RELEVANT_STATUS = "not_relevant"
RANKABLE_STATUSES = frozenset({"open", "forthcoming"})
# Rows per INSERT statement: large enough to be fast, small enough for SQLite's variable limit.
INSERT_BATCH = 1000


@dataclass
class ProfileFeedback:
    """What the service desk said about calls for one profile (call ids)."""

    relevant: set[int] = field(default_factory=set)
    not_relevant: set[int] = field(default_factory=set)


def load_active_profiles(
    session: Session, profile_ids: Sequence[int] | None = None
) -> list[Profile]:
    """Active profiles (all, or those among ``profile_ids``), ordered by id for determinism."""
    stmt = select(Profile).where(Profile.active).order_by(Profile.id)
    if profile_ids is not None:
        stmt = stmt.where(Profile.id.in_(list(profile_ids)))
    return list(session.scalars(stmt))


def load_rankable_calls(session: Session, now: datetime | None = None) -> list[FundingCall]:
    """Calls that are open or forthcoming as of ``now``, with deadlines loaded, ordered by id.

    The status is derived from the dates (``storage.queries.call_status``), not trusted from
    the stored column: a call whose last deadline passed since the crawl is closed now.
    """
    now = now or utcnow()
    return [c for c in load_live_calls(session) if call_status(c, now) in RANKABLE_STATUSES]


def load_live_calls(session: Session) -> list[FundingCall]:
    """Every call not withdrawn (open, forthcoming and closed), deadlines loaded, by id."""
    return _calls_with_deadlines(session, FundingCall.withdrawn_at.is_(None))


def _calls_with_deadlines(session: Session, condition: ColumnElement[bool]) -> list[FundingCall]:
    return list(
        session.scalars(
            select(FundingCall)
            .where(condition)
            .options(selectinload(FundingCall.deadlines))
            .order_by(FundingCall.id)
        )
    )


def load_calls(session: Session, call_ids: Iterable[int]) -> list[FundingCall]:
    """The calls with ``call_ids`` (deadlines loaded), ordered by id; unknown ids are skipped."""
    ids = sorted(set(call_ids))
    if not ids:
        return []
    return _calls_with_deadlines(session, FundingCall.id.in_(ids))


def read_feedback(
    session: Session, profile_ids: Sequence[int] | None = None
) -> dict[int, ProfileFeedback]:
    """Reviews turned into feedback per profile: relevant and not-relevant call ids.

    Statuses ``new`` and ``reviewing`` say nothing yet and are left out.
    """
    stmt = select(Review.profile_id, Review.call_id, Review.status).order_by(Review.id)
    if profile_ids is not None:
        stmt = stmt.where(Review.profile_id.in_(list(profile_ids)))
    feedback: dict[int, ProfileFeedback] = {}
    for profile_id, call_id, status in session.execute(stmt):
        if status == NOT_RELEVANT_STATUS:
            feedback.setdefault(profile_id, ProfileFeedback()).not_relevant.add(call_id)
        elif status in RELEVANT_STATUSES:
            feedback.setdefault(profile_id, ProfileFeedback()).relevant.add(call_id)
    return feedback


def start_match_run(
    session: Session, *, trigger: str, parameters: Mapping[str, Any] | None = None
) -> MatchRun:
    """Add a match run in state ``running`` and flush it, so it has an id."""
    run = MatchRun(
        trigger=trigger[:32],
        outcome="running",
        parameters=dict(parameters or {}),
        started_at=utcnow(),
    )
    session.add(run)
    session.flush()
    return run


def replace_matches(
    session: Session,
    run: MatchRun,
    rows: Iterable[Mapping[str, Any]],
    *,
    profile_ids: Sequence[int] | None = None,
) -> int:
    """Replace the stored matches with ``rows`` inside a savepoint; return how many were stored.

    ``rows`` are dictionaries with ``profile_id``, ``call_id``, ``score``, ``rank``,
    ``explanation`` and ``eligibility_unknown``. With ``profile_ids`` only those profiles'
    matches are replaced; other profiles keep theirs. If anything fails (a row that breaks a
    constraint, an error while ``rows`` is produced), the savepoint is rolled back, the old
    matches are untouched and the error propagates. The caller's transaction is not committed.
    """
    created_at = utcnow()
    stored = 0
    with session.begin_nested():
        known = _stored_pairs(session, profile_ids)
        stmt = delete(Match)
        if profile_ids is not None:
            stmt = stmt.where(Match.profile_id.in_(list(profile_ids)))
        session.execute(stmt.execution_options(synchronize_session=False))
        # Rows of pairs matched before keep their id (links to a match stay valid across
        # re-matches) and go in batches of their own: one INSERT needs the same columns.
        again: list[dict[str, Any]] = []
        fresh: list[dict[str, Any]] = []
        for row in rows:
            pair = (row["profile_id"], row["call_id"])
            value = {
                "match_run_id": run.id,
                "profile_id": row["profile_id"],
                "call_id": row["call_id"],
                "score": float(row["score"]),
                "rank": int(row["rank"]),
                "explanation": row.get("explanation") or {},
                "eligibility_unknown": bool(row.get("eligibility_unknown", False)),
                "created_at": created_at,
                "first_matched_at": created_at,
            }
            if pair in known:
                value["id"], value["first_matched_at"] = known[pair]
                again.append(value)
            else:
                fresh.append(value)
            for batch in (again, fresh):
                if len(batch) >= INSERT_BATCH:
                    session.execute(insert(Match), batch)
                    stored += len(batch)
                    batch.clear()
        for batch in (again, fresh):
            if batch:
                session.execute(insert(Match), batch)
                stored += len(batch)
    return stored


def _stored_pairs(
    session: Session, profile_ids: Sequence[int] | None
) -> dict[tuple[int, int], tuple[int, datetime]]:
    """Each stored (profile, call) pair's match id and when it first matched."""
    stmt = select(Match.profile_id, Match.call_id, Match.id, Match.first_matched_at)
    if profile_ids is not None:
        stmt = stmt.where(Match.profile_id.in_(list(profile_ids)))
    return {(p, c): (match_id, at) for p, c, match_id, at in session.execute(stmt)}


def finish_match_run(
    session: Session,
    run: MatchRun,
    *,
    outcome: str,
    profiles_count: int,
    calls_count: int,
    matches_count: int,
    duration_seconds: float,
    error: str | None = None,
) -> MatchRun:
    """Record how a match run ended (``succeeded`` or ``failed``, with the error if any)."""
    run.outcome = outcome
    run.profiles_count = profiles_count
    run.calls_count = calls_count
    run.matches_count = matches_count
    run.duration_seconds = duration_seconds
    run.finished_at = utcnow()
    if error is not None:
        # A new dict, so the JSON column is seen as changed.
        run.parameters = {**(run.parameters or {}), "error": error[:2000]}
    session.flush()
    return run


def matches_for_profile(session: Session, profile_id: int, limit: int | None = None) -> list[Match]:
    """The stored matches of a profile, best first, with their calls (and deadlines) loaded."""
    stmt = (
        select(Match)
        .where(Match.profile_id == profile_id)
        .options(selectinload(Match.call).selectinload(FundingCall.deadlines))
        .order_by(Match.rank, Match.id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def count_matches(session: Session, profile_id: int | None = None) -> int:
    """How many matches are stored (for one profile, or in total)."""
    stmt = select(func.count(Match.id))
    if profile_id is not None:
        stmt = stmt.where(Match.profile_id == profile_id)
    return session.scalar(stmt) or 0


def match_counts_by_profile(session: Session) -> dict[int, int]:
    """How many matches each profile has, in one query (profiles without any are absent)."""
    rows = session.execute(
        select(Match.profile_id, func.count(Match.id)).group_by(Match.profile_id)
    )
    return {profile_id: n for profile_id, n in rows}


def latest_match_run(session: Session) -> MatchRun | None:
    """The most recent match run, or None."""
    return session.scalar(select(MatchRun).order_by(MatchRun.started_at.desc(), MatchRun.id.desc()))


def calls_changed_since_full_rematch(session: Session) -> bool:
    """True when a call was added, changed or withdrawn after the last successful re-match
    of every profile started (or none ever ran and there are calls).

    Read from the calls themselves rather than from the crawl runs' counts, so a crawl that
    was killed after storing calls, and a status that housekeeping closed, count too.
    """
    last_full = last_full_rematch_start(session)
    changed = select(FundingCall.id).limit(1)
    if last_full is not None:
        changed = changed.where(
            (FundingCall.last_changed_at > last_full) | (FundingCall.withdrawn_at > last_full)
        )
    return session.scalar(changed) is not None


def last_full_rematch_start(session: Session) -> datetime | None:
    """When the newest successful re-match of every profile started (None: never)."""
    runs = session.execute(
        select(MatchRun.started_at, MatchRun.parameters)
        .where(MatchRun.outcome == "succeeded")
        .order_by(MatchRun.started_at.desc())
        .limit(200)  # beyond that many partial runs, None: one full re-match is due anyway
    ).all()
    for started_at, parameters in runs:
        if (parameters or {}).get("profile_ids") is None:  # all profiles, not some
            return started_at
    return None
