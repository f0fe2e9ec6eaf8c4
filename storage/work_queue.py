"""The work queue: what the web app asks for and the scheduler does.

A request records a ``WorkItem`` ("re-rank this profile", "crawl this source now") and
returns at once; the scheduler (or ``foerderdesk queue drain``) claims items and does them in
its own process. Asking twice while an item waits adds nothing: one queued re-rank of a
profile covers every edit and review made before it starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.models import WorkItem, utcnow

WAITING_STATES = ("queued", "running")


def _enqueue(session: Session, kind: str, reason: str, requested_by_id: int | None,
             **target: Any) -> WorkItem:  # fmt: skip
    """The queued item of ``kind`` for ``target`` (one column = value), or a new one."""
    ((column, value),) = target.items()
    item = session.scalar(
        select(WorkItem)
        .where(
            WorkItem.kind == kind, WorkItem.state == "queued", getattr(WorkItem, column) == value
        )
        .order_by(WorkItem.id)
        .limit(1)
    )
    if item is None:
        item = WorkItem(kind=kind, reason=reason[:200], requested_by_id=requested_by_id, **target)
        session.add(item)
        session.flush()
    return item


def enqueue_rematch(
    session: Session, profile_id: int, *, reason: str, requested_by_id: int | None = None
) -> WorkItem:
    """Queue a re-rank of one profile, unless one is queued already (then that one)."""
    return _enqueue(session, "rematch", reason, requested_by_id, profile_id=profile_id)


def enqueue_crawl(
    session: Session, source_slug: str, *, reason: str, requested_by_id: int | None = None
) -> WorkItem:
    """Queue a crawl of one source, unless one is queued already (then that one)."""
    return _enqueue(session, "crawl", reason, requested_by_id, source_slug=source_slug)


def waiting_rematches(session: Session, profile_ids: Iterable[int] | None = None) -> set[int]:
    """The profiles with a re-rank queued or running (the pages show "re-ranking…")."""
    stmt = select(WorkItem.profile_id).where(
        WorkItem.kind == "rematch", WorkItem.state.in_(WAITING_STATES)
    )
    if profile_ids is not None:
        stmt = stmt.where(WorkItem.profile_id.in_(list(profile_ids)))
    return {pid for pid in session.scalars(stmt) if pid is not None}


def waiting_crawls(session: Session) -> dict[str, WorkItem]:
    """Per source slug, its queued or running crawl (the oldest), for the sources page."""
    items = session.scalars(
        select(WorkItem)
        .where(WorkItem.kind == "crawl", WorkItem.state.in_(WAITING_STATES))
        .order_by(WorkItem.id.desc())
    )
    return {item.source_slug: item for item in items if item.source_slug}


def claim(session: Session, kind: str, limit: int | None = None) -> list[WorkItem]:
    """Mark the queued items of ``kind`` as running (oldest first) and return them.

    Each item is taken by an UPDATE that still requires it to be queued, so of two drainers
    only one takes it, on SQLite as on PostgreSQL (where ``SKIP LOCKED`` also keeps the other
    from waiting). The caller commits the claim before it does the work, so a crash leaves
    the item visibly ``running`` rather than silently lost.
    """
    stmt = select(WorkItem.id).where(WorkItem.kind == kind, WorkItem.state == "queued")
    stmt = stmt.order_by(WorkItem.id).with_for_update(skip_locked=True)
    if limit is not None:
        stmt = stmt.limit(limit)
    now = utcnow()
    taken = [
        item_id
        for item_id in session.scalars(stmt).all()
        if session.execute(
            update(WorkItem)
            .where(WorkItem.id == item_id, WorkItem.state == "queued")
            .values(state="running", started_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
    ]
    items = [session.get_one(WorkItem, item_id) for item_id in taken]
    for item in items:
        session.refresh(item)
    return items


def finish(session: Session, items: Sequence[WorkItem], *, error: str | None = None) -> None:
    """Record that ``items`` are done, or failed with ``error``."""
    now = utcnow()
    for item in items:
        item.state = "failed" if error else "done"
        item.error = error[:2000] if error else None
        item.finished_at = now
    session.flush()


def requeue_stale(session: Session, started_before: datetime) -> int:
    """Put items ``running`` since before ``started_before`` back in the queue; how many.

    A drainer that was killed leaves its items running; longer than any piece of work can
    take, they were abandoned, and doing them again is safe (a re-rank or a crawl repeats).
    """
    items = list(
        session.scalars(
            select(WorkItem).where(
                WorkItem.state == "running", WorkItem.started_at < started_before
            )
        )
    )
    for item in items:
        item.state = "queued"
        item.started_at = None
    session.flush()
    return len(items)
