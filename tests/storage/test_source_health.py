"""Source health: last run, last success, failed, stale against the schedule, next run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from storage.models import CrawlRun, Source
from storage.source_health import next_run_at, recent_runs, source_health, source_runs
from tests.storage.factories import make_source

# A Saturday, 12:00 UTC = 13:00 in Hannover (winter time).
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
DAILY = "30 2 * * *"  # 02:30 Europe/Berlin
WEEKLY = "15 1 * * 1"  # Mondays 01:15 Europe/Berlin


def run(session: Session, source: Source, outcome: str, hours_ago: float) -> CrawlRun:
    started = NOW - timedelta(hours=hours_ago)
    crawl = CrawlRun(
        source=source,
        started_at=started,
        finished_at=None if outcome == "running" else started + timedelta(minutes=5),
        outcome=outcome,
    )
    session.add(crawl)
    session.flush()
    return crawl


def by_slug(session: Session, **kwargs) -> dict:
    return {h.slug: h for h in source_health(session, NOW, **kwargs)}


def test_a_daily_source_that_succeeded_last_night_is_fresh(session: Session) -> None:
    source = make_source(session, "daily", name="Daily", schedule=DAILY)
    ok = run(session, source, "succeeded", hours_ago=10)
    health = by_slug(session)["daily"]
    assert health.last_run is ok and health.last_success is ok
    assert not health.failed and not health.stale
    assert health.name == "Daily"


def test_two_missed_daily_runs_make_a_source_stale(session: Session) -> None:
    source = make_source(session, "daily", schedule=DAILY)
    run(session, source, "succeeded", hours_ago=24 * 2 + 10)
    run(session, source, "failed", hours_ago=34)
    run(session, source, "failed", hours_ago=10)
    health = by_slug(session)["daily"]
    assert health.stale and health.failed
    assert health.last_success is not None and health.last_success.outcome == "succeeded"


def test_a_weekly_source_is_not_stale_after_three_days(session: Session) -> None:
    weekly = make_source(session, "weekly", schedule=WEEKLY)
    daily = make_source(session, "daily", schedule=DAILY)
    run(session, weekly, "succeeded", hours_ago=24 * 5)
    run(session, daily, "succeeded", hours_ago=24 * 5)
    health = by_slug(session)
    assert not health["weekly"].stale
    assert health["daily"].stale


def test_the_schedule_passed_in_wins_over_the_stored_one(session: Session) -> None:
    source = make_source(session, "src", schedule=DAILY)
    run(session, source, "succeeded", hours_ago=24 * 5)
    assert by_slug(session)["src"].stale
    assert not by_slug(session, schedules={"src": WEEKLY})["src"].stale


def test_an_unreadable_schedule_falls_back_to_three_days(session: Session) -> None:
    source = make_source(session, "odd", schedule="every full moon")
    run(session, source, "succeeded", hours_ago=24 * 2)
    health = by_slug(session)["odd"]
    assert not health.stale and health.next_run is None
    source.schedule = "also not cron"
    run(session, source, "failed", hours_ago=1)
    session.query(CrawlRun).filter_by(outcome="succeeded").update(
        {"started_at": NOW - timedelta(days=4)}
    )
    assert by_slug(session)["odd"].stale


def test_a_source_that_never_succeeded_is_stale_and_a_disabled_one_never(
    session: Session,
) -> None:
    make_source(session, "never", schedule=DAILY)
    off = make_source(session, "off", schedule=DAILY, enabled=False)
    run(session, off, "failed", hours_ago=24 * 30)
    health = by_slug(session)
    assert health["never"].stale and health["never"].last_run is None
    assert not health["never"].failed
    assert not health["off"].stale and health["off"].next_run is None
    assert health["off"].failed


def test_failed_looks_at_the_newest_finished_run_not_a_running_one(session: Session) -> None:
    source = make_source(session, "src", schedule=DAILY)
    run(session, source, "failed", hours_ago=20)
    running = run(session, source, "running", hours_ago=0.5)
    health = by_slug(session)["src"]
    assert health.failed and health.last_run is running
    run(session, source, "partial", hours_ago=0.2)
    assert not by_slug(session)["src"].failed


def test_next_run_follows_the_cron_in_berlin_time(session: Session) -> None:
    make_source(session, "daily", schedule=DAILY)
    make_source(session, "weekly", schedule=WEEKLY)
    health = by_slug(session)
    # 02:30 in Berlin on 22 November (CET, UTC+1) is 01:30 UTC.
    assert health["daily"].next_run == datetime(2026, 11, 22, 1, 30, tzinfo=UTC)
    # The next Monday is 23 November; 01:15 CET is 00:15 UTC.
    assert health["weekly"].next_run == datetime(2026, 11, 23, 0, 15, tzinfo=UTC)


def test_next_run_in_summer_time_is_two_hours_before_utc(session: Session) -> None:
    make_source(session, "daily", schedule=DAILY)
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    (health,) = source_health(session, summer)
    assert health.next_run == datetime(2026, 7, 2, 0, 30, tzinfo=UTC)


def test_sources_listed_in_the_file_but_never_crawled_are_included(session: Session) -> None:
    make_source(session, "known", name="Bekannt", schedule=DAILY)
    health = source_health(
        session,
        NOW,
        {"known": DAILY, "fresh_in_file": WEEKLY},
        names={"fresh_in_file": "Neu in der Datei"},
    )
    assert [h.name for h in health] == ["Bekannt", "Neu in der Datei"]
    new = health[1]
    assert new.last_run is None and new.stale and new.schedule == WEEKLY
    assert new.next_run is not None


def test_the_files_enabled_flag_wins_for_listed_and_stored_sources(session: Session) -> None:
    make_source(session, "switched_off", schedule=DAILY, enabled=True)
    health = {
        h.slug: h
        for h in source_health(
            session, NOW, {"switched_off": DAILY, "never_on": WEEKLY},
            enabled={"switched_off": False, "never_on": False},
        )
    }  # fmt: skip
    for slug in ("switched_off", "never_on"):
        assert not health[slug].enabled and not health[slug].stale
        assert health[slug].next_run is None


def test_recent_runs_keeps_the_newest_per_source(session: Session) -> None:
    a = make_source(session, "a")
    b = make_source(session, "b")
    for hours in range(8):
        run(session, a, "succeeded", hours_ago=hours * 24 + 1)
    run(session, b, "failed", hours_ago=3)
    runs = recent_runs(session, per_source=5)
    assert len(runs["a"]) == 5 and len(runs["b"]) == 1
    starts = [r.started_at for r in runs["a"]]
    assert starts == sorted(starts, reverse=True)
    assert starts[0] == NOW - timedelta(hours=1)
    assert [r.source.slug for r in source_runs(session, "b")] == ["b"]
    assert len(source_runs(session, "a", limit=20)) == 8


def test_cron_weekdays_count_from_sunday_as_cron_does() -> None:
    monday_start = datetime(2026, 11, 22, 23, 0, tzinfo=UTC)  # Monday 00:00 in Berlin
    assert next_run_at("0 9 * * 1", NOW) == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    assert next_run_at("0 9 * * 0", NOW) == datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    assert next_run_at("0 9 * * 7", NOW) == datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    assert next_run_at("0 9 * * mon-fri", NOW) == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    # 0-2: Sunday to Tuesday; */2: Sunday, Tuesday, Thursday, Saturday.
    assert next_run_at("0 9 * * 0-2", monday_start) == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    assert next_run_at("0 9 * * */2", monday_start) == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    assert next_run_at("0 9 * * 5-7", NOW) == datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    assert next_run_at("0 9 * * 8", NOW) is None
    assert next_run_at("0 9 * *", NOW) is None
