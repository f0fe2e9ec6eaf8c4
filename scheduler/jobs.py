"""The scheduler's jobs: what runs when, and what each run does.

Every job is stored in APScheduler's persistent job store as a reference to :func:`run_job`
with its id, so a restart finds its missed runs; the collaborators a job uses (the crawler,
the re-matcher, the mail functions) live in a :class:`JobContext` that the service installs,
and tests install their own. Each run is recorded as a ``JobRun``; a job that raises is
recorded as failed and never stops the scheduler.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session, sessionmaker

from crawler.runs import EXIT_BUSY
from scheduler.pipeline import Crawler, CrawlRunner, Rematcher, default_rematcher, rematch_due
from scheduler.work import DrainReport, drain_crawls
from storage.config import Settings
from storage.db import session_scope
from storage.housekeeping import prune, refresh_statuses
from storage.job_runs import finish_job_run, start_job_run
from storage.models import JobRun, utcnow
from storage.queries import crawl_runs_since
from storage.source_health import cron_trigger

log = logging.getLogger(__name__)

RUN_JOB = "scheduler.jobs:run_job"  # what the job store keeps: a reference, not a pickle
FULL_RETRY = timedelta(minutes=10)  # a failed re-match of every profile waits this long


# The jobs that look for work every few seconds or minutes: a run that found none leaves no
# row (it would be thousands a day saying "nothing"), and they are kept in memory, not in
# the job store (see scheduler.service).
POLLING_JOBS = frozenset({"queue", "rematch", "outbox", "digests:immediate"})


class JobFailed(Exception):
    """A job that ran but did not do its work (a failed crawl, a failed re-match); the
    ``facts`` say it for the pages, like a :class:`Summary`'s."""

    def __init__(self, message: str, facts: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.facts = facts


class Summary(str):
    """What a run did: one English line for the log, and the counts it says (``facts``,
    with a ``kind``) that the sources page says in the reader's language. ``idle``: the
    run found nothing to do."""

    facts: dict[str, Any]
    idle: bool

    def __new__(cls, text: object, facts: dict[str, Any], *, idle: bool = False) -> Summary:
        summary = super().__new__(cls, text)
        summary.facts = facts
        summary.idle = idle
        return summary


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job: its stable id, what it is for, when it runs and how late it may."""

    id: str
    description: str
    trigger: BaseTrigger
    misfire_grace_seconds: int

    def keeps(self, stored_next_run: datetime, now: datetime) -> bool:
        """Whether a next run time the job store kept from before still fits this trigger
        (then a run missed while the scheduler was down runs once at start)."""
        if isinstance(self.trigger, IntervalTrigger):
            return stored_next_run <= now + self.trigger.interval
        return self.trigger.get_next_fire_time(None, stored_next_run) == stored_next_run


def job_specs(settings: Settings, crawl_schedules: dict[str, str]) -> list[JobSpec]:
    """Every job, given the enabled sources' cron schedules by slug."""
    zone = settings.timezone
    poll = max(settings.scheduler_poll_seconds, 1.0)
    specs = [
        JobSpec(
            f"crawl:{slug}",
            f"crawl {slug} ({schedule}, {zone})",
            trigger,
            misfire_grace_seconds=int(timedelta(hours=23).total_seconds()),
        )
        for slug, schedule in sorted(crawl_schedules.items())
        if (trigger := cron_trigger(schedule)) is not None
    ]
    specs += [
        JobSpec("queue", "crawls asked for in the web app", IntervalTrigger(seconds=poll), 60),
        JobSpec(
            "rematch",
            "re-match after crawls that changed calls, and profiles queued by the web app",
            IntervalTrigger(seconds=poll),
            60,
        ),
        JobSpec("outbox", "send the mail that is due", IntervalTrigger(minutes=1), 60),
        JobSpec(
            "digests:immediate",
            "digests of new calls, as they come",
            IntervalTrigger(minutes=5),
            300,
        ),
        JobSpec(
            "digests:daily",
            "daily digests",
            CronTrigger(hour=7, minute=0, timezone=zone),
            23 * 3600,
        ),
        JobSpec(
            "digests:weekly",
            "weekly digests",
            CronTrigger(day_of_week="mon", hour=7, minute=0, timezone=zone),
            6 * 24 * 3600,
        ),
        JobSpec(
            "reminders",
            "deadline reminders (14 and 3 days ahead)",
            CronTrigger(hour=7, minute=30, timezone=zone),
            23 * 3600,
        ),
        JobSpec(
            "housekeeping",
            "statuses as deadlines pass; prune old runs and sent mail",
            CronTrigger(hour=3, minute=40, timezone=zone),
            23 * 3600,
        ),
    ]
    return specs


def _compose(settings: Settings, factory: sessionmaker[Session], **kwargs: object) -> Summary:
    from scheduler.digests import compose_due

    report = compose_due(factory, settings, **kwargs)  # type: ignore[arg-type]
    text = (
        f"composed {report.digests} digest(s), {report.alerts} change alert(s), "
        f"{report.reminders} reminder(s)"
    )
    facts = {"kind": "compose", "digests": report.digests, "alerts": report.alerts,
             "reminders": report.reminders}  # fmt: skip
    return Summary(text, facts, idle=not report.total)


def _send(settings: Settings, factory: sessionmaker[Session]) -> Summary:
    from scheduler.mailer import WORKERS, send_outbox

    report = send_outbox(factory, settings, workers=WORKERS)
    facts = {"kind": "send", **asdict(report)}
    busy = report.sent or report.deferred or report.failed or report.suppressed
    return Summary(report, facts, idle=not busy)


@dataclass
class JobContext:
    """What the jobs work with; the service builds the real one, tests their own."""

    settings: Settings
    factory: sessionmaker[Session]
    crawler: Crawler
    rematcher: Rematcher
    compose: Callable[..., Summary]
    send: Callable[[], Summary]
    wake: Callable[[str], None] = lambda job_id: None  # run that job soon (the service's)
    runner: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    rematch_lock: threading.Lock = field(default_factory=threading.Lock)
    full_retry_at: datetime | None = None

    @classmethod
    def real(cls, settings: Settings, factory: sessionmaker[Session]) -> JobContext:
        return cls(
            settings=settings,
            factory=factory,
            crawler=CrawlRunner(settings, factory),
            rematcher=default_rematcher(settings),
            compose=lambda **kwargs: _compose(settings, factory, **kwargs),
            send=lambda: _send(settings, factory),
        )


# --- what each job does --------------------------------------------------------------------
def crawl_job(ctx: JobContext, slug: str) -> Summary:
    started = utcnow()
    code = ctx.crawler(slug)
    if code == EXIT_BUSY:
        return Summary(f"skipped: {slug} is being crawled by another process",
                       {"kind": "crawl_busy"})  # fmt: skip
    with session_scope(ctx.factory) as session:
        run = next(iter(crawl_runs_since(session, slug, started)), None)
        if run is None or run.outcome == "failed" or code not in (0, 3):
            reason = run.reason if run is not None and run.reason else f"exit code {code}"
            raise JobFailed(f"crawl of {slug} failed: {reason}",
                            {"kind": "crawl_failed", "reason": reason})  # fmt: skip
        changed = run.calls_new + run.calls_updated + run.calls_withdrawn
        summary = Summary(
            f"{run.outcome}: {run.calls_new} new, {run.calls_updated} updated, "
            f"{run.calls_withdrawn} withdrawn",
            {
                "kind": "crawl",
                "outcome": run.outcome,
                "new": run.calls_new,
                "updated": run.calls_updated,
                "withdrawn": run.calls_withdrawn,
            },
        )
    if changed:
        ctx.wake("rematch")
    return summary


def queue_job(ctx: JobContext) -> Summary:
    report = DrainReport()
    drain_crawls(ctx.factory, ctx.settings, ctx.crawler, report)
    if report.crawls:
        ctx.wake("rematch")
    if report.failed:
        raise JobFailed(
            f"{report.failed} queued crawl(s) failed; {report.crawls} succeeded",
            {"kind": "queue_failed", "failed": report.failed, "crawls": report.crawls},
        )
    facts = {"kind": "queue", "crawls": report.crawls, "requeued": report.requeued}
    return Summary(f"{report.crawls} queued crawl(s)", facts,
                   idle=not (report.crawls or report.requeued))  # fmt: skip


def rematch_job(ctx: JobContext) -> Summary:
    with ctx.rematch_lock:
        now = utcnow()
        full_allowed = ctx.full_retry_at is None or now >= ctx.full_retry_at
        report = rematch_due(ctx.factory, ctx.rematcher, full_allowed=full_allowed)
        if report.failed and report.full:
            ctx.full_retry_at = now + FULL_RETRY
        elif report.full:
            ctx.full_retry_at = None
    if report.failed:
        raise JobFailed(
            str(report),
            {
                "kind": "rematch_failed",
                "full": report.full,
                "profiles": report.profiles,
                "error": report.error,
            },
        )
    facts = {"kind": "rematch", "full": report.full, "profiles": report.profiles,
             "run": report.run_id}  # fmt: skip
    if report.run_id is None:
        return Summary(report, facts, idle=True)
    ctx.wake("digests:immediate")
    return Summary(report, facts)


def housekeeping_job(ctx: JobContext) -> Summary:
    now = utcnow()
    with session_scope(ctx.factory) as session:
        closed = refresh_statuses(session, now)
    with session_scope(ctx.factory) as session:
        pruned = prune(session, now, timedelta(days=ctx.settings.retention_days))
    if closed:
        ctx.wake("rematch")  # the changed statuses count as changed calls
    return Summary(
        f"{closed} status(es) brought up to date; pruned {pruned}",
        {"kind": "housekeeping", "statuses": closed, "pruned": asdict(pruned)},
    )


def run_action(ctx: JobContext, job_id: str) -> Summary:
    """Do the work of ``job_id`` and return a one-line summary."""
    if job_id.startswith("crawl:"):
        return crawl_job(ctx, job_id.removeprefix("crawl:"))
    if job_id.startswith("digests:"):
        summary = ctx.compose(frequencies=(job_id.removeprefix("digests:"),), reminders=False)
        ctx.wake("outbox")
        return summary
    actions: dict[str, Callable[[JobContext], Summary]] = {
        "queue": queue_job,
        "rematch": rematch_job,
        "reminders": lambda c: c.compose(frequencies=(), reminders=True),
        "outbox": lambda c: c.send(),
        "housekeeping": housekeeping_job,
    }
    if job_id not in actions:
        raise JobFailed(f"no such job: {job_id}")
    return actions[job_id](ctx)


# --- the entry point the job store refers to ------------------------------------------------
_context: JobContext | None = None


def install(context: JobContext | None) -> None:
    """Make ``context`` the one :func:`run_job` uses (the service does, at start)."""
    global _context
    _context = context


def run_job(job_id: str) -> None:
    """Run ``job_id`` and record the run; an error is recorded and logged, never raised.

    A scheduled job's run is recorded when it starts, so the page shows it running; a
    polling job's only when it ends having done something (see :data:`POLLING_JOBS`).
    """
    ctx = _context
    if ctx is None:
        log.error("job %s ran before the scheduler installed its context", job_id)
        return
    polling = job_id in POLLING_JOBS
    started = utcnow()
    run_id = None
    if not polling:
        with session_scope(ctx.factory) as session:
            run_id = start_job_run(session, job_id, ctx.runner).id
    summary: Summary | None = None
    error = None
    failed_facts = None
    try:
        summary = run_action(ctx, job_id)
    except JobFailed as exc:
        error = str(exc)
        failed_facts = exc.facts
        log.error("job %s failed: %s", job_id, error)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        log.exception("job %s raised", job_id)
    idle = polling and error is None and summary is not None and summary.idle
    if not idle:
        try:
            with session_scope(ctx.factory) as session:
                if run_id is None:
                    run = start_job_run(session, job_id, ctx.runner, started)
                else:
                    run = session.get_one(JobRun, run_id)
                facts = summary.facts if summary else failed_facts
                finish_job_run(session, run, summary=str(summary or ""), facts=facts, error=error)
        except Exception:
            log.exception("could not record the end of job %s", job_id)
    if error is None:
        log.log(logging.DEBUG if idle else logging.INFO, "job %s: %s", job_id, summary)
