"""The scheduler's jobs: which exist and when they run (built, not started), and what each
does with injected collaborators; every run is recorded, and a job that raises is survived."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from click.testing import CliRunner
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from scheduler import jobs
from scheduler.jobs import JobContext, Summary, job_specs, run_job
from scheduler.service import build_scheduler
from storage.cli import main
from storage.config import Settings
from storage.models import CrawlRun, FundingCall, JobRun, MatchRun, apscheduler_jobs, utcnow
from storage.work_queue import enqueue_rematch
from tests.storage.factories import make_call, make_profile, make_source

SOURCES = """\
sources:
  - {slug: quelle_a, spider: feed, name: Quelle A, funder_type: foundation, language: de,
     schedule: "30 2 * * *", enabled: true, settings: {}}
  - {slug: quelle_b, spider: feed, name: Quelle B, funder_type: foundation, language: de,
     schedule: "15 1 * * 1", enabled: true, settings: {}}
  - {slug: quelle_aus, spider: feed, name: Quelle aus, funder_type: foundation, language: de,
     schedule: "0 3 * * *", enabled: false, settings: {}}
"""
FIXED_JOBS = {
    "queue", "rematch", "outbox", "digests:immediate", "digests:daily", "digests:weekly",
    "reminders", "housekeeping",
}  # fmt: skip


@pytest.fixture
def sources_settings(settings: Settings, tmp_path: Path) -> Settings:
    path = tmp_path / "sources.yaml"
    path.write_text(SOURCES, encoding="utf-8")
    return replace(settings, sources_file=str(path))


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


class Rematcher:
    """Records what it was asked and stores a match run as the real one does."""

    def __init__(self, outcome: str = "succeeded") -> None:
        self.calls: list[tuple[list[int] | None, str]] = []
        self.outcome = outcome

    def __call__(self, session: Session, ids: Sequence[int] | None, trigger: str) -> MatchRun:
        self.calls.append((None if ids is None else list(ids), trigger))
        parameters = {"profile_ids": None if ids is None else list(ids), "error": "kaputt"}
        run = MatchRun(trigger=trigger, outcome=self.outcome, parameters=parameters)
        session.add(run)
        session.flush()
        return run


def context(settings: Settings, factory: sessionmaker[Session], **overrides: object) -> JobContext:
    woken: list[str] = []
    values: dict[str, object] = {
        "settings": settings,
        "factory": factory,
        "crawler": lambda slug: 0,
        "rematcher": Rematcher(),
        "compose": lambda **kwargs: Summary(f"composed {kwargs}", {"kind": "compose"}),
        "send": lambda: Summary("sent 0", {"kind": "send"}, idle=True),
        "wake": woken.append,
    }
    values.update(overrides)
    ctx = JobContext(**values)  # type: ignore[arg-type]
    ctx.woken = woken  # type: ignore[attr-defined]
    return ctx


@pytest.fixture
def installed(settings: Settings, factory: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    """Install a context for ``run_job`` and take it away afterwards."""

    def install(**overrides: object) -> JobContext:
        ctx = context(settings, factory, **overrides)
        jobs.install(ctx)
        return ctx

    yield install
    jobs.install(None)


def _runs(session: Session) -> list[tuple[str, str, str, str | None]]:
    session.expire_all()
    rows = session.scalars(select(JobRun).order_by(JobRun.id))
    return [(r.job_id, r.outcome, r.summary, r.error) for r in rows]


# --- the built scheduler, not started ------------------------------------------------------
def test_the_built_scheduler_has_every_job_with_its_trigger_and_policies(
    sources_settings: Settings, engine: Engine, session: Session
) -> None:
    scheduler = build_scheduler(sources_settings, engine=engine)
    assert not scheduler.running
    found = {job.id: job for job in scheduler.get_jobs()}
    # A crawl per enabled source, named by its slug; the disabled one has none.
    assert set(found) == FIXED_JOBS | {"crawl:quelle_a", "crawl:quelle_b"}
    for job in found.values():
        assert job.coalesce is True and job.max_instances == 1
        assert job.misfire_grace_time and job.misfire_grace_time >= 60
        assert job.args == (job.id,)
    crawl = found["crawl:quelle_b"].trigger
    assert isinstance(crawl, CronTrigger) and str(crawl.timezone) == "Europe/Berlin"
    # Cron's weekday 1 is Monday: the next run is a Monday at 01:15 Berlin time.
    fire = crawl.get_next_fire_time(None, utcnow())
    assert (fire.weekday(), fire.hour, fire.minute) == (0, 1, 15)
    assert found["crawl:quelle_a"].executor == "crawls" and found["queue"].executor == "default"
    assert isinstance(found["rematch"].trigger, IntervalTrigger)
    assert found["rematch"].trigger.interval == timedelta(seconds=20)
    daily = found["digests:daily"].trigger.get_next_fire_time(None, utcnow())
    assert (daily.hour, daily.minute) == (7, 0)
    # Building it stored nothing: the job store is written only by a started scheduler.
    assert session.scalar(select(func.count()).select_from(apscheduler_jobs)) == 0


def test_list_jobs_prints_each_job_and_its_next_run_and_starts_nothing(
    sources_settings: Settings, engine: Engine, session: Session
) -> None:
    result = CliRunner().invoke(
        main,
        ["--instance", str(sources_settings.instance_path), "--database-url",
         sources_settings.sqlalchemy_url, "scheduler", "--list-jobs"],
        env={"FOERDERDESK_SOURCES_FILE": sources_settings.sources_file},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert {line.split()[0] for line in lines} == FIXED_JOBS | {"crawl:quelle_a", "crawl:quelle_b"}
    crawl = next(line for line in lines if line.startswith("crawl:quelle_a "))
    assert "next 20" in crawl and "cron[" in crawl and "hour='2'" in crawl
    assert session.scalar(select(func.count()).select_from(apscheduler_jobs)) == 0
    assert session.scalar(select(func.count(JobRun.id))) == 0


def test_every_job_has_a_stable_id_and_an_unreadable_schedule_gets_no_job(
    settings: Settings,
) -> None:
    specs = job_specs(settings, {"gut": "0 4 * * *", "kaputt": "every day at four"})
    ids = [spec.id for spec in specs]
    assert ids == [spec.id for spec in job_specs(settings, {"gut": "0 4 * * *"})]
    assert "crawl:gut" in ids and "crawl:kaputt" not in ids


# --- what the jobs do, with injected collaborators -------------------------------------------
def test_a_crawl_job_records_its_run_and_wakes_the_rematch_when_calls_changed(
    installed, session: Session, factory: sessionmaker[Session]
) -> None:  # type: ignore[no-untyped-def]
    make_source(session, "quelle")
    session.commit()

    def crawler(slug: str) -> int:  # what a crawl process stores
        with factory.begin() as s:
            source_id = make_source(s, slug).id
            s.add(CrawlRun(source_id=source_id, outcome="succeeded", calls_new=3,
                           finished_at=utcnow()))  # fmt: skip
        return 0

    ctx = installed(crawler=crawler)
    run_job("crawl:quelle")
    assert _runs(session) == [("crawl:quelle", "succeeded",
                               "succeeded: 3 new, 0 updated, 0 withdrawn", None)]  # fmt: skip
    assert session.scalars(select(JobRun.facts)).one() == {
        "kind": "crawl",
        "outcome": "succeeded",
        "new": 3,
        "updated": 0,
        "withdrawn": 0,
    }
    assert ctx.woken == ["rematch"]


def test_a_failed_crawl_is_a_failed_job_with_the_crawls_reason(
    installed, session: Session, factory: sessionmaker[Session]
) -> None:  # type: ignore[no-untyped-def]
    make_source(session, "quelle")
    session.commit()

    def crawler(slug: str) -> int:
        with factory.begin() as s:
            s.add(CrawlRun(source_id=make_source(s, slug).id, outcome="failed",
                           reason="blocked: CAPTCHA page", finished_at=utcnow()))  # fmt: skip
        return 1

    ctx = installed(crawler=crawler)
    run_job("crawl:quelle")
    ((job_id, outcome, _, error),) = _runs(session)
    assert (job_id, outcome) == ("crawl:quelle", "failed")
    assert error == "crawl of quelle failed: blocked: CAPTCHA page"
    assert session.scalars(select(JobRun.facts)).one() == {
        "kind": "crawl_failed", "reason": "blocked: CAPTCHA page"}  # fmt: skip
    assert ctx.woken == []


def test_a_job_that_raises_is_recorded_and_does_not_raise(installed, session: Session) -> None:  # type: ignore[no-untyped-def]
    def broken() -> Summary:
        raise ConnectionRefusedError("SMTP server down")

    installed(send=broken)
    run_job("outbox")  # no exception: the scheduler's thread goes on
    run_job("nonsense")
    runs = _runs(session)
    assert runs[0][:2] == ("outbox", "failed")
    assert runs[0][3] == "ConnectionRefusedError: SMTP server down"
    assert runs[1] == ("nonsense", "failed", "", "no such job: nonsense")


def test_digest_jobs_compose_their_frequency_and_wake_the_outbox(
    installed, session: Session
) -> None:  # type: ignore[no-untyped-def]
    asked: list[dict[str, object]] = []

    def compose(**kwargs: object) -> Summary:
        asked.append(kwargs)
        return Summary("composed 2 digest(s)", {"kind": "compose", "digests": 2})

    ctx = installed(compose=compose)
    run_job("digests:daily")
    run_job("reminders")
    assert asked == [
        {"frequencies": ("daily",), "reminders": False},
        {"frequencies": (), "reminders": True},
    ]
    assert ctx.woken == ["outbox"]
    assert [r[:3] for r in _runs(session)] == [
        ("digests:daily", "succeeded", "composed 2 digest(s)"),
        ("reminders", "succeeded", "composed 2 digest(s)"),
    ]


def test_the_rematch_job_rematches_everyone_after_changed_calls_then_only_the_queue(
    installed, session: Session
) -> None:  # type: ignore[no-untyped-def]
    profile = make_profile(session, "klima")
    make_call(session, title="Klimaschutz in Kommunen")
    session.commit()
    rematcher = Rematcher()
    installed(rematcher=rematcher)
    run_job("rematch")  # a call changed since no re-match ever ran: everyone
    run_job("rematch")  # nothing changed, nothing queued: nothing done
    enqueue_rematch(session, profile.id, reason="review")
    session.commit()
    run_job("rematch")
    assert rematcher.calls == [(None, "crawl"), ([profile.id], "queue")]
    # The poll that found nothing is not recorded: only runs that did something are.
    assert [r[2] for r in _runs(session)] == [
        "re-matched every profile (match run 1)",
        "re-matched 1 profile(s) (match run 2)",
    ]


def test_a_failed_full_rematch_keeps_matches_and_waits_before_it_is_tried_again(
    installed, session: Session
) -> None:  # type: ignore[no-untyped-def]
    profile = make_profile(session, "klima")
    make_call(session, title="Klimaschutz in Kommunen")
    session.commit()
    rematcher = Rematcher("failed")
    ctx = installed(rematcher=rematcher)
    run_job("rematch")
    assert ctx.full_retry_at is not None and ctx.full_retry_at > utcnow()
    enqueue_rematch(session, profile.id, reason="review")
    session.commit()
    run_job("rematch")  # the queued profile is still done; the full retry waits
    assert rematcher.calls == [(None, "crawl"), ([profile.id], "queue")]
    outcomes = [r[1] for r in _runs(session)]
    assert outcomes == ["failed", "failed"]
    ctx.full_retry_at = utcnow() - timedelta(seconds=1)
    run_job("rematch")
    assert rematcher.calls[-1] == (None, "crawl")


def test_housekeeping_closes_a_stale_status_and_wakes_the_rematch(
    installed, session: Session
) -> None:  # type: ignore[no-untyped-def]
    passed = utcnow() - timedelta(days=2)
    call = make_call(session, deadlines=[passed], status="open", deadline_model="single")
    session.commit()
    ctx = installed()
    run_job("housekeeping")
    session.expire_all()
    assert session.get_one(FundingCall, call.id).status == "closed"
    ((job_id, outcome, summary, error),) = _runs(session)
    assert (job_id, outcome, error) == ("housekeeping", "succeeded", None)
    assert summary == (
        "1 status(es) brought up to date; pruned 0 crawl run(s), 0 match run(s), "
        "0 sent message(s), 0 queue item(s), 0 job run(s)"
    )
    assert ctx.woken == ["rematch"]
