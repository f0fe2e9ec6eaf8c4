"""Daily housekeeping: derived call fields brought up to date, and old records pruned.

Service functions for the scheduler: each takes a session and never commits. Both work in
chunks, so a store with tens of thousands of calls or runs never sits in memory at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, delete, exists, func, not_, select, update
from sqlalchemy.orm import Session, selectinload

from storage.calls import record_changes
from storage.deadlines import call_status, compute_next_deadline
from storage.matching import last_full_rematch_start
from storage.models import (
    CallChange,
    CrawlRun,
    FundingCall,
    JobRun,
    Match,
    MatchRun,
    Notification,
    SubscriptionCall,
    WorkItem,
    utcnow,
)

# Small enough for SQLite's limit on bound variables in one statement, large enough to
# keep the number of round trips down.
CHUNK = 500
RETENTION = timedelta(days=180)
KEEP_CRAWL_RUNS = 10  # per source: the sources page shows recent runs and health
KEEP_JOB_RUNS = 20  # per job
FINISHED_MESSAGES = ("sent", "failed", "suppressed")  # never pending ones
FINISHED_WORK = ("done", "failed")


# --- derived call fields ------------------------------------------------------------------
def refresh_statuses(session: Session, now: datetime | None = None) -> int:
    """Recompute ``next_deadline_at`` and ``status`` of every call not withdrawn, as a crawl
    would, so a call whose deadline passed between crawls stops reading "open".

    Each derived tracked field that moved gets a :class:`CallChange` (no crawl run), as
    :func:`storage.calls.upsert_call` writes for a time-driven change. Returns how many
    calls changed status. Never commits.
    """
    now = now or utcnow()
    changed = 0
    last_id = 0
    while True:
        calls = session.scalars(
            select(FundingCall)
            .where(FundingCall.withdrawn_at.is_(None), FundingCall.id > last_id)
            .order_by(FundingCall.id)
            .limit(CHUNK)
            .options(selectinload(FundingCall.deadlines))
        ).all()
        if not calls:
            return changed
        changed += sum(_refresh(session, call, now) for call in calls)
        last_id = calls[-1].id
        session.flush()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _refresh(session: Session, call: FundingCall, now: datetime) -> bool:
    """Bring one call's derived fields up to date; True if its status changed."""
    before = {"status": call.status, "next_deadline": _iso(call.next_deadline_at)}
    # A call without deadline rows keeps its stored next deadline: there is nothing to
    # recompute it from, and call_status reads it to close the call once it has passed.
    if call.deadlines:
        call.next_deadline_at = compute_next_deadline(call.deadlines, call.deadline_model, now)
    call.status = call_status(call, now)
    after = {"status": call.status, "next_deadline": _iso(call.next_deadline_at)}
    # Recorded as a crawl records a time-driven change; the call counts as changed (re-match).
    moved = record_changes(session, call, before, after, now=now)
    return "status" in moved


# --- pruning ------------------------------------------------------------------------------
@dataclass(frozen=True)
class PruneReport:
    """How many rows one prune deleted, and how many references it cut loose first."""

    crawl_runs: int = 0
    call_changes_detached: int = 0  # call history kept, its crawl run gone
    match_runs: int = 0
    notifications: int = 0
    subscription_calls_detached: int = 0  # "already sent" kept, its message gone
    work_items: int = 0
    job_runs: int = 0

    def __str__(self) -> str:  # the housekeeping job's summary on the sources page
        return (
            f"{self.crawl_runs} crawl run(s), {self.match_runs} match run(s), "
            f"{self.notifications} sent message(s), {self.work_items} queue item(s), "
            f"{self.job_runs} job run(s)"
        )


def prune(
    session: Session, now: datetime | None = None, retention: timedelta = RETENTION
) -> PruneReport:
    """Delete crawl runs, match runs, finished messages, finished work and job runs older
    than ``now - retention``, keeping what the pages and the mail bookkeeping still read.

    Kept whatever their age: each source's newest runs and newest successful run, each
    job's newest runs, the newest successful match run and the newest successful full
    re-match (the scheduler asks when that started), and match runs current matches belong
    to. Call history and "already sent" records are never deleted: their references to a
    deleted crawl run or message are set to NULL first. Never commits.
    """
    cutoff = (now or utcnow()) - retention
    crawl_runs, detached_changes = _delete_chunks(
        session, CrawlRun, _old_crawl_runs(cutoff), _detach_call_changes
    )
    match_runs, _ = _delete_chunks(session, MatchRun, _old_match_runs(session, cutoff))
    notifications, detached_sent = _delete_chunks(
        session, Notification, _old_notifications(cutoff), _detach_subscription_calls
    )
    finished_at = func.coalesce(WorkItem.finished_at, WorkItem.created_at)
    work_items, _ = _delete_chunks(
        session,
        WorkItem,
        select(WorkItem.id).where(WorkItem.state.in_(FINISHED_WORK), finished_at < cutoff),
    )
    job_runs, _ = _delete_chunks(session, JobRun, _old_job_runs(cutoff))
    return PruneReport(
        crawl_runs=crawl_runs,
        call_changes_detached=detached_changes,
        match_runs=match_runs,
        notifications=notifications,
        subscription_calls_detached=detached_sent,
        work_items=work_items,
        job_runs=job_runs,
    )


def _delete_chunks(
    session: Session,
    model: Any,
    ids: Select[tuple[int]],
    detach: Callable[[Session, Sequence[int]], int] | None = None,
) -> tuple[int, int]:
    """Delete the rows of ``model`` whose ids ``ids`` selects, a chunk at a time, after
    ``detach`` has cut the references to each chunk; (rows deleted, references cut)."""
    deleted = detached = 0
    while True:
        chunk = list(session.scalars(ids.limit(CHUNK)))
        if not chunk:
            return deleted, detached
        if detach is not None:
            detached += detach(session, chunk)
        result = session.execute(delete(model).where(model.id.in_(chunk)))
        deleted += int(result.rowcount or 0)  # type: ignore[attr-defined]


def _detach_call_changes(session: Session, run_ids: Sequence[int]) -> int:
    # The foreign key says SET NULL; done here as well so no database setting decides
    # whether call history survives.
    result = session.execute(
        update(CallChange).where(CallChange.crawl_run_id.in_(run_ids)).values(crawl_run_id=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _detach_subscription_calls(session: Session, message_ids: Sequence[int]) -> int:
    # The row itself (subscription, call, sent_at) is what stops a call being sent twice.
    result = session.execute(
        update(SubscriptionCall)
        .where(SubscriptionCall.notification_id.in_(message_ids))
        .values(notification_id=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _old_crawl_runs(cutoff: datetime) -> Select[tuple[int]]:
    newest_first = (CrawlRun.started_at.desc(), CrawlRun.id.desc())
    ranked = select(
        CrawlRun.id,
        CrawlRun.started_at,
        CrawlRun.outcome,
        func.row_number()
        .over(partition_by=CrawlRun.source_id, order_by=newest_first)
        .label("position"),
        # Position among the source's runs of the same outcome: 1 is the newest success,
        # which the health page reports however long ago it was.
        func.row_number()
        .over(partition_by=(CrawlRun.source_id, CrawlRun.outcome), order_by=newest_first)
        .label("outcome_position"),
    ).subquery()
    last_success = and_(ranked.c.outcome == "succeeded", ranked.c.outcome_position == 1)
    return select(ranked.c.id).where(
        ranked.c.started_at < cutoff,
        ranked.c.position > KEEP_CRAWL_RUNS,
        not_(last_success),
    )


def _old_match_runs(session: Session, cutoff: datetime) -> Select[tuple[int]]:
    # Matches cascade with their run: a run current matches belong to must stay.
    in_use = exists().where(Match.match_run_id == MatchRun.id)
    ids = select(MatchRun.id).where(MatchRun.started_at < cutoff, not_(in_use))
    newest_success = session.scalar(
        select(MatchRun.id)
        .where(MatchRun.outcome == "succeeded")
        .order_by(MatchRun.started_at.desc(), MatchRun.id.desc())
        .limit(1)
    )
    if newest_success is not None:
        ids = ids.where(MatchRun.id != newest_success)
    full_start = last_full_rematch_start(session)
    if full_start is not None:
        ids = ids.where(
            not_(and_(MatchRun.outcome == "succeeded", MatchRun.started_at == full_start))
        )
    return ids


def _old_notifications(cutoff: datetime) -> Select[tuple[int]]:
    # Failed and suppressed messages were never sent: their age is their creation's.
    finished_at = func.coalesce(Notification.sent_at, Notification.created_at)
    return select(Notification.id).where(
        Notification.state.in_(FINISHED_MESSAGES), finished_at < cutoff
    )


def _old_job_runs(cutoff: datetime) -> Select[tuple[int]]:
    ranked = select(
        JobRun.id,
        JobRun.started_at,
        func.row_number()
        .over(partition_by=JobRun.job_id, order_by=(JobRun.started_at.desc(), JobRun.id.desc()))
        .label("position"),
    ).subquery()
    return select(ranked.c.id).where(
        ranked.c.started_at < cutoff, ranked.c.position > KEEP_JOB_RUNS
    )
