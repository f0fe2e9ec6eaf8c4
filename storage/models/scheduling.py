"""The scheduler's own records: its job runs, its single-instance lease and APScheduler's
persistent job store.

The job store's table belongs to APScheduler (it reads and writes it); it is declared here
only so that our migrations create it like every other table and ``db upgrade`` stays the
one way the schema changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Float, Index, LargeBinary, String, Table, Text, Unicode
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import JOB_RUN_OUTCOMES, Base, one_of, utcnow

JOB_STORE_TABLE = "apscheduler_jobs"

apscheduler_jobs = Table(
    JOB_STORE_TABLE,
    Base.metadata,
    # The columns of APScheduler 3.x's SQLAlchemyJobStore, exactly.
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)


class JobRun(Base):
    """One run of one scheduled job: when, how it ended, what it did or why it failed."""

    __tablename__ = "job_runs"
    __table_args__ = (
        one_of("outcome", JOB_RUN_OUTCOMES, "outcome"),
        Index("ix_job_runs_job_id_started_at", "job_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(120))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(16), default="running")
    summary: Mapped[str] = mapped_column(Text, default="")
    # The counts the summary says, with a "kind", so that pages can say them in the reader's
    # language; the summary is the English line for logs (and for runs recorded before).
    facts: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    # host:pid of the scheduler that ran it, so a run left "running" names its process.
    runner: Mapped[str] = mapped_column(String(200), default="")


class SchedulerLease(Base):
    """Who runs the scheduler now: renewed while it lives, free for another once expired."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    renewed_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
