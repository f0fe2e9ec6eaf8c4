"""The scheduler running for real: a short run with fast triggers, missed runs coalescing
after a restart, a clean stop on SIGTERM, and crawls that hang or are stopped."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from scheduler import jobs
from scheduler.jobs import JobContext, JobSpec, Summary
from scheduler.pipeline import TIMED_OUT, CrawlRunner
from scheduler.service import build_scheduler, run_service
from storage.config import Settings
from storage.models import CrawlRun, JobRun, MatchRun, SchedulerLease, apscheduler_jobs, utcnow
from storage.work_queue import enqueue_crawl
from tests.storage.factories import make_call, make_source

SOURCES = """\
sources:
  - {slug: quelle, spider: feed, name: Quelle, funder_type: foundation, language: de,
     schedule: "30 2 * * *", enabled: true, settings: {}}
"""


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
def fast(settings: Settings, tmp_path: Path) -> Settings:
    """Settings with one source and a one-second poll."""
    path = tmp_path / "sources.yaml"
    path.write_text(SOURCES, encoding="utf-8")
    return replace(settings, sources_file=str(path), scheduler_poll_seconds=1.0)


def _wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def _rematcher(session: Session, ids: Sequence[int] | None, trigger: str) -> MatchRun:
    run = MatchRun(trigger=trigger, outcome="succeeded", parameters={"profile_ids": ids})
    session.add(run)
    session.flush()
    return run


def _context(settings: Settings, factory: sessionmaker[Session], crawled: list[str]) -> JobContext:
    def crawler(slug: str) -> int:
        crawled.append(slug)
        return 0

    return JobContext(
        settings=settings,
        factory=factory,
        crawler=crawler,
        rematcher=_rematcher,
        compose=lambda **kwargs: Summary("composed nothing", {"kind": "compose"}, idle=True),
        send=lambda: Summary("sent 0", {"kind": "send"}, idle=True),
    )


def test_a_short_real_run_drains_the_queue_records_its_jobs_and_stops_cleanly(
    fast: Settings, factory: sessionmaker[Session], session: Session
) -> None:
    make_source(session, "quelle")
    enqueue_crawl(session, "quelle", reason="crawl now")
    make_call(session, source="quelle")  # a call no re-match has seen yet
    session.commit()
    crawled: list[str] = []
    stop = threading.Event()
    said: list[str] = []
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(
            run_service(fast, echo=said.append, stop=stop,
                        context=_context(fast, factory, crawled))
        ),
    )  # fmt: skip
    thread.start()
    try:
        assert _wait_for(lambda: crawled == ["quelle"]), said
        assert _wait_for(lambda: session.scalar(
            select(func.count(JobRun.id)).where(JobRun.job_id == "rematch",
                                                JobRun.outcome == "succeeded")) == 1)  # fmt: skip
        time.sleep(2.5)  # two more polls: nothing changed, so nothing more is re-matched
        session.expire_all()
        lease = session.scalar(select(SchedulerLease))
        assert lease is not None and lease.expires_at > utcnow()
        # The job store holds every job with its next run, for the sources page.
        # The job store holds the scheduled jobs with their next runs (for the sources page
        # and for a restart); the polls live in memory.
        stored = set(session.scalars(select(apscheduler_jobs.c.id)))
        assert {"crawl:quelle", "housekeeping", "digests:daily"} <= stored
        assert not stored & {"queue", "rematch", "outbox", "digests:immediate"}
    finally:
        stop.set()
        thread.join(timeout=30)
    assert result == [0] and not thread.is_alive()
    assert said[0].startswith("scheduler: active as ") and said[-1] == "scheduler: stopped"
    session.expire_all()
    assert session.scalar(select(func.count(JobRun.id)).where(JobRun.outcome == "running")) == 0
    # The polls that found nothing left no rows; the two that did work did.
    assert dict(session.execute(select(JobRun.job_id, JobRun.summary)).all()) == {
        "queue": "1 queued crawl(s)",
        "rematch": "re-matched every profile (match run 1)",
    }
    assert session.scalar(select(SchedulerLease)) is None  # released


def test_after_a_restart_missed_runs_coalesce_into_one(
    settings: Settings, engine: Engine, factory: sessionmaker[Session], session: Session
) -> None:
    # A job due every hour, at a minute half an hour from now, so that no run falls due
    # while the test watches; the scheduler was down for three hours (three or four missed
    # runs).
    minute = (utcnow().minute + 30) % 60
    hourly = [JobSpec("reminders", "remind", CronTrigger(minute=minute, timezone="UTC"), 6 * 3600)]
    first = build_scheduler(settings, engine=engine, specs=hourly)
    first.start(paused=True)
    first.shutdown()
    # A run of the trigger's, 2.5 or 3.5 hours ago.
    three_hours_ago = (utcnow() - timedelta(hours=3)).replace(
        minute=minute, second=0, microsecond=0
    )
    session.execute(update(apscheduler_jobs).values(next_run_time=three_hours_ago.timestamp()))
    session.commit()

    sent: list[str] = []
    ctx = _context(settings, factory, [])

    def compose(**kwargs: object) -> Summary:
        sent.append("run")
        return Summary("composed 1", {"kind": "compose"})

    ctx.compose = compose
    jobs.install(ctx)
    second = build_scheduler(settings, engine=engine, specs=hourly)
    assert second.get_jobs()[0].next_run_time == three_hours_ago  # kept, not recomputed
    second.start()
    try:
        assert _wait_for(lambda: sent == ["run"], timeout=10)
        time.sleep(1.5)  # room for a second run, if the missed ones did not coalesce
    finally:
        second.shutdown()
        jobs.install(None)
    assert sent == ["run"]
    session.expire_all()
    assert session.scalar(select(func.count(JobRun.id))) == 1


def test_sigterm_stops_the_scheduler_process_cleanly(fast: Settings, session: Session) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "storage.cli", "--instance", str(fast.instance_path),
         "--database-url", fast.sqlalchemy_url, "scheduler"],
        env={"FOERDERDESK_SOURCES_FILE": fast.sources_file,
             "FOERDERDESK_SCHEDULER_POLL_SECONDS": "1", "PATH": "/usr/bin:/bin"},
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert _wait_for(lambda: bool(session.scalar(
            select(func.count()).select_from(apscheduler_jobs))), 30)  # fmt: skip
        time.sleep(1.5)  # a poll or two runs
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "scheduler: active as " in err and err.rstrip().endswith("scheduler: stopped")
    session.expire_all()
    assert session.scalar(select(func.count(JobRun.id)).where(JobRun.outcome == "running")) == 0
    assert session.scalar(select(SchedulerLease)) is None


# --- crawls that hang or are stopped -----------------------------------------------------------
def _sleeper(seconds: float) -> Callable[[str], list[str]]:
    """A crawl command that hangs, ignoring nothing: it stands in for a stuck spider."""
    return lambda slug: [sys.executable, "-c", f"import time; time.sleep({seconds})"]


def test_a_hanging_crawl_is_killed_at_its_time_out_and_recorded_as_failed(
    settings: Settings, factory: sessionmaker[Session], session: Session
) -> None:
    make_source(session, "quelle")
    session.commit()
    runner = CrawlRunner(settings, factory, timeout=1.0, grace=1.0, command=_sleeper(60))
    started = time.monotonic()
    assert runner("quelle") == TIMED_OUT
    assert time.monotonic() - started < 10
    session.expire_all()
    (run,) = session.scalars(select(CrawlRun))
    assert run.outcome == "failed"
    assert run.reason == "killed: still running after 1 s (the crawl time-out)"


def test_a_stopped_crawl_is_recorded_as_stopped_by_the_shutdown(
    settings: Settings, factory: sessionmaker[Session], session: Session
) -> None:
    source = make_source(session, "quelle")
    session.commit()
    runner = CrawlRunner(settings, factory, timeout=60, command=_sleeper(60))
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(runner("quelle")))
    thread.start()
    time.sleep(0.3)
    session.add(CrawlRun(source_id=source.id, outcome="running", started_at=utcnow()))
    session.commit()  # the crawl process opened its run; then the scheduler is stopped
    runner.stop()
    thread.join(timeout=20)
    assert codes and codes[0] == -signal.SIGTERM
    session.expire_all()
    (run,) = session.scalars(select(CrawlRun))
    assert (run.outcome, run.reason) == ("failed", "stopped: the scheduler shut down")
    assert runner("quelle") == TIMED_OUT  # a stopping runner starts no new crawl


def test_a_crawl_that_ignores_sigterm_is_killed_after_the_grace_period(
    settings: Settings, factory: sessionmaker[Session], session: Session
) -> None:
    make_source(session, "quelle")
    session.commit()
    stubborn = [sys.executable, "-c",
                "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "time.sleep(60)"]  # fmt: skip
    runner = CrawlRunner(settings, factory, timeout=60, grace=1.0, command=lambda s: stubborn)
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(runner("quelle")))
    thread.start()
    time.sleep(1.0)  # the child has started and ignores SIGTERM
    started = time.monotonic()
    runner.stop()
    thread.join(timeout=20)
    assert time.monotonic() - started < 10
    assert codes == [-signal.SIGKILL]
    session.expire_all()
    (run,) = session.scalars(select(CrawlRun))
    assert (run.outcome, run.reason) == ("failed", "stopped: the scheduler shut down")
