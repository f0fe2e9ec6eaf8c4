"""The scheduler service: one APScheduler instance that runs every job on time.

:func:`build_scheduler` makes the scheduler (persistent job store, jobs with stable ids)
without starting it; :func:`run_service` is ``foerderdesk scheduler``: it waits for the
single-instance lock, starts the jobs, renews the lock while it runs and stops cleanly on
SIGTERM — running crawls are stopped and recorded, running jobs finish.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from crawler.sources import SourcesFileError, load_sources, sources_path
from scheduler import jobs
from scheduler.jobs import POLLING_JOBS, JobContext, JobSpec, job_specs
from storage.config import Settings
from storage.db import make_engine, make_session_factory, session_scope
from storage.job_runs import close_abandoned_runs, next_run_times
from storage.locks import LeaseLock
from storage.models import JOB_STORE_TABLE, utcnow

log = logging.getLogger(__name__)

CRAWL_WORKERS = 2  # crawls side by side (each a process; more would crowd SQLite's writer)
JOB_WORKERS = 4  # the other jobs side by side: a long digest run must not hold up the queue


def crawl_schedules(settings: Settings) -> dict[str, str]:
    """The cron schedule of every enabled source, by slug."""
    try:
        entries = load_sources(sources_path(settings))
    except SourcesFileError as exc:
        log.error("cannot read the sources file, so no crawl is scheduled: %s", exc)
        return {}
    return {entry.slug: entry.schedule for entry in entries if entry.enabled}


def build_scheduler(
    settings: Settings,
    *,
    engine: Engine | None = None,
    specs: list[JobSpec] | None = None,
    now: datetime | None = None,
) -> BackgroundScheduler:
    """The scheduler with every job added, not started.

    The scheduled jobs live in the persistent job store; the polling jobs (every few seconds
    or minutes) in memory: a missed poll needs no catching up, and writing their next run
    after every poll would keep SQLite's writer lock busy for nothing. A scheduled job keeps
    the next run time the job store holds from before when it still fits the job's trigger,
    so a run missed while no scheduler ran happens once at start (coalesced) rather than
    being skipped; a changed schedule starts afresh.
    """
    engine = engine or make_engine(settings)
    now = now or utcnow()
    specs = specs if specs is not None else job_specs(settings, crawl_schedules(settings))
    scheduler = BackgroundScheduler(
        jobstores={
            "default": SQLAlchemyJobStore(engine=engine, tablename=JOB_STORE_TABLE),
            "polls": MemoryJobStore(),
        },
        executors={
            "default": ThreadPoolExecutor(JOB_WORKERS),
            "crawls": ThreadPoolExecutor(CRAWL_WORKERS),
        },
        timezone=settings.timezone,
    )
    with session_scope(make_session_factory(engine)) as session:
        stored = next_run_times(session)
    for spec in specs:
        kwargs = {}
        previous = stored.get(spec.id)
        if previous is not None and spec.keeps(previous, now):
            kwargs["next_run_time"] = previous
        scheduler.add_job(
            jobs.RUN_JOB,
            trigger=spec.trigger,
            args=[spec.id],
            id=spec.id,
            name=spec.description,
            executor="crawls" if spec.id.startswith("crawl:") else "default",
            jobstore="polls" if spec.id in POLLING_JOBS else "default",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=spec.misfire_grace_seconds,
            replace_existing=True,
            **kwargs,
        )
    return scheduler


@dataclass(frozen=True)
class JobLine:
    """One job as ``--list-jobs`` prints it."""

    id: str
    trigger: str
    next_run: datetime | None


def list_jobs(scheduler: BackgroundScheduler) -> list[JobLine]:
    """Every job of a built (not started) scheduler, with its trigger and next run time."""
    lines = []
    for job in scheduler.get_jobs():
        next_run = getattr(job, "next_run_time", None)
        if next_run is None:  # a pending job: its first run as the trigger has it
            next_run = job.trigger.get_next_fire_time(None, utcnow())
        lines.append(JobLine(job.id, str(job.trigger), next_run))
    return lines


def _remove_retired_jobs(scheduler: BackgroundScheduler, keep: set[str]) -> None:
    """Drop stored jobs no longer defined (a source disabled or removed)."""
    for job in scheduler.get_jobs():
        if job.id not in keep:
            log.info("removing the job %s: it is no longer scheduled", job.id)
            job.remove()


def _waker(scheduler: BackgroundScheduler) -> Callable[[str], None]:
    def wake(job_id: str) -> None:
        try:
            scheduler.modify_job(job_id, next_run_time=utcnow())
        except JobLookupError:
            log.warning("cannot wake the job %s: it does not exist", job_id)

    return wake


def run_service(
    settings: Settings,
    *,
    echo: Callable[[str], None] = print,
    stop: threading.Event | None = None,
    context: JobContext | None = None,
    lock_poll: float = 5.0,
) -> int:
    """Run the scheduler until SIGTERM/SIGINT (or ``stop``); the exit code.

    0 after a clean stop; 1 when the lock was lost (another scheduler took over, or the
    database went away): then this one stops at once rather than run jobs twice.
    """
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    engine = make_engine(settings, write_lock_first=True)  # crawls and the web app write too
    factory = make_session_factory(engine)
    lock = LeaseLock(engine)
    try:
        if not lock.try_acquire() and not lock.wait_until_acquired(
            stop, poll=lock_poll, on_wait=echo
        ):
            echo("scheduler: stopped while waiting for the lock")
            return 0
        with session_scope(factory) as session:
            abandoned = close_abandoned_runs(session)
        if abandoned:
            echo(f"scheduler: {abandoned} job run(s) left open by a stopped scheduler closed")
        ctx = context or JobContext.real(settings, factory)
        specs = job_specs(settings, crawl_schedules(settings))
        scheduler = build_scheduler(settings, engine=engine, specs=specs)
        ctx.wake = _waker(scheduler)
        jobs.install(ctx)
        scheduler.start()
        _remove_retired_jobs(scheduler, {spec.id for spec in specs})
        echo(f"scheduler: active as {lock.holder} with {len(specs)} job(s)")
        lost = False
        while not stop.wait(lock.ttl.total_seconds() / 3):
            if not lock.renew():
                echo("scheduler: lost the lock (another scheduler took over?); stopping")
                lost = True
                break
        echo("scheduler: stopping (running crawls are stopped and recorded)")
        stopper = getattr(ctx.crawler, "stop", None)
        if callable(stopper):
            stopper()
        scheduler.shutdown(wait=True)
        jobs.install(None)
        echo("scheduler: stopped")
        return 1 if lost else 0
    finally:
        lock.release()
        engine.dispose()
