"""What the scheduler's jobs did: one ``JobRun`` per run, and when each job runs next.

The scheduler records its runs here so that the sources page can show them without asking
the scheduler process anything; the next run times come from APScheduler's job store table,
whose ``next_run_time`` column is plain data (the rest of a row is APScheduler's own).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.models import JobRun, apscheduler_jobs, utcnow


def start_job_run(
    session: Session, job_id: str, runner: str, started_at: datetime | None = None
) -> JobRun:
    """Record that ``job_id`` started (now, or at ``started_at``) in ``runner`` (host:pid)."""
    run = JobRun(job_id=job_id, runner=runner[:200], started_at=started_at or utcnow())
    session.add(run)
    session.flush()
    return run


def finish_job_run(
    session: Session,
    run: JobRun,
    *,
    summary: str = "",
    facts: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Record how ``run`` ended: failed with ``error``, or succeeded with ``summary``; the
    ``facts`` say either for the pages."""
    run.finished_at = utcnow()
    run.outcome = "failed" if error else "succeeded"
    run.summary = summary[:2000]
    run.facts = facts
    run.error = error[:4000] if error else None
    session.flush()


def close_abandoned_runs(session: Session) -> int:
    """Mark the runs still ``running`` as failed; how many.

    Called by a scheduler that has just taken the lock: no other scheduler runs anywhere
    then, so a run left open was abandoned by one that was killed.
    """
    result = session.execute(
        update(JobRun)
        .where(JobRun.outcome == "running")
        .values(
            outcome="failed",
            finished_at=utcnow(),
            error="interrupted: the scheduler stopped before the job ended",
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def latest_job_runs(session: Session) -> dict[str, JobRun]:
    """The newest run of every job that has run, by job id."""
    newest = (
        select(JobRun.job_id, func.max(JobRun.id).label("id")).group_by(JobRun.job_id).subquery()
    )
    runs = session.scalars(select(JobRun).join(newest, JobRun.id == newest.c.id))
    return {run.job_id: run for run in runs}


def recent_job_runs(session: Session, job_id: str, limit: int = 10) -> list[JobRun]:
    """The newest runs of one job, newest first."""
    return list(
        session.scalars(
            select(JobRun).where(JobRun.job_id == job_id).order_by(JobRun.id.desc()).limit(limit)
        )
    )


def next_run_times(session: Session) -> dict[str, datetime | None]:
    """When each stored job runs next (None: paused), from APScheduler's job store."""
    rows = session.execute(select(apscheduler_jobs.c.id, apscheduler_jobs.c.next_run_time))
    return {
        job_id: datetime.fromtimestamp(stamp, UTC) if stamp is not None else None
        for job_id, stamp in rows
    }
