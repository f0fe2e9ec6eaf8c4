"""How each source is doing: its last run, its last success, failed or stale, its next run.

The sources page and the desk's dashboard both ask :func:`source_health`. Schedules are cron
expressions in Europe/Berlin (as in the sources file); the caller passes the file's schedules
in, so storage never reads the crawler's files, and falls back to ``Source.schedule``.

A source is *stale* when its last successful run is older than twice its schedule's interval
(plus an hour, so a crawl that is running at its scheduled time does not flag it), or older
than three days when it has no schedule that can be read; a source that never succeeded is
stale too. A disabled source is never stale and has no next run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from storage.models import CrawlRun, Source

log = logging.getLogger(__name__)

SCHEDULE_TIMEZONE = "Europe/Berlin"
STALE_WITHOUT_SCHEDULE = timedelta(days=3)
STALE_GRACE = timedelta(hours=1)
RECENT_RUNS = 5


@dataclass(frozen=True)
class SourceHealth:
    """One source as the sources page and the dashboard show it."""

    slug: str
    name: str
    last_run: CrawlRun | None  # the newest run, also one still running
    last_success: CrawlRun | None  # the newest run that succeeded
    failed: bool  # the newest finished run failed
    stale: bool
    next_run: datetime | None  # UTC; None when disabled or the schedule cannot be read
    schedule: str = ""
    enabled: bool = True


_CRON_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _cron_weekdays(field: str) -> str:
    """A cron day-of-week field (0 or 7 = Sunday) as APScheduler weekday names.

    APScheduler 3 reads weekday numbers from Monday = 0, so ``CronTrigger.from_crontab`` would
    run "1" (Monday to cron) on Tuesdays; names mean the same to both.
    """
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.lower().split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if span == "*":
            first, last = 0, 6
        else:
            low, _, high = span.partition("-")
            first = _cron_weekday(low)
            last = _cron_weekday(high) if high else (6 if step_text else first)
            if high and high.strip() == "7":
                last = 7
        if step < 1 or last < first:
            raise ValueError(f"cannot read the weekday field {field!r}")
        days.update(day % 7 for day in range(first, last + 1, step))
    return ",".join(_CRON_WEEKDAYS[day] for day in sorted(days))


def _cron_weekday(text: str) -> int:
    text = text.strip()
    if text in _CRON_WEEKDAYS:
        return _CRON_WEEKDAYS.index(text)
    day = int(text)
    if not 0 <= day <= 7:
        raise ValueError(f"weekday {day} is not between 0 and 7")
    return day


def cron_trigger(schedule: str) -> CronTrigger | None:
    """The trigger of a cron expression (as cron reads it) in Europe/Berlin, or None if the
    expression cannot be read."""
    try:
        minute, hour, day, month, weekday = schedule.split()
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=_cron_weekdays(weekday),
            timezone=SCHEDULE_TIMEZONE,
        )
    except (ValueError, TypeError):
        log.warning("cannot read the crawl schedule %r", schedule)
        return None


def next_run_at(schedule: str, now: datetime) -> datetime | None:
    """When ``schedule`` fires next after ``now`` (UTC), or None if it cannot be read."""
    trigger = cron_trigger(schedule)
    if trigger is None:
        return None
    fire = trigger.get_next_fire_time(None, now)
    return fire.astimezone(UTC) if fire is not None else None


def stale_after(schedule: str, since: datetime) -> timedelta:
    """How old a last success may get: twice the schedule's interval after ``since``."""
    trigger = cron_trigger(schedule)
    if trigger is None:
        return STALE_WITHOUT_SCHEDULE
    first = trigger.get_next_fire_time(None, since)
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1)) if first else None
    if first is None or second is None:
        return STALE_WITHOUT_SCHEDULE
    return 2 * (second - first) + STALE_GRACE


def _runs_by_position() -> Select[tuple[int, int]]:
    """Each run's id and its position among its source's runs, the newest 1."""
    return select(
        CrawlRun.id,
        func.row_number()
        .over(
            partition_by=CrawlRun.source_id,
            order_by=(CrawlRun.started_at.desc(), CrawlRun.id.desc()),
        )
        .label("position"),
    )


def _newest_runs(
    session: Session, condition: ColumnElement[bool] | None = None
) -> dict[int, CrawlRun]:
    """Per source id, its newest run (among those meeting ``condition``), in one query."""
    ranked = _runs_by_position()
    if condition is not None:
        ranked = ranked.where(condition)
    sub = ranked.subquery()
    runs = session.scalars(
        select(CrawlRun).join(sub, sub.c.id == CrawlRun.id).where(sub.c.position == 1)
    )
    return {run.source_id: run for run in runs}


def source_health(
    session: Session,
    now: datetime,
    schedules: Mapping[str, str] | None = None,
    *,
    names: Mapping[str, str] | None = None,
    enabled: Mapping[str, bool] | None = None,
) -> list[SourceHealth]:
    """Every source's health at ``now`` (aware), by name.

    ``schedules`` maps slugs to cron expressions (the sources file's); a slug without one
    uses ``Source.schedule``. A slug in ``schedules`` that has no row yet (listed in the file,
    never crawled) is included as never run, named from ``names`` and switched on or off by
    ``enabled`` when given (the file's word wins over the row's, which a crawl last wrote).
    """
    schedules = schedules or {}
    names = names or {}
    enabled = enabled or {}
    sources = list(session.scalars(select(Source)))
    last = _newest_runs(session)
    success = _newest_runs(session, CrawlRun.outcome == "succeeded")
    finished = _newest_runs(session, CrawlRun.outcome != "running")

    result: list[SourceHealth] = []
    for source in sources:
        schedule = schedules.get(source.slug) or source.schedule
        result.append(
            _health(
                source.slug,
                source.name or source.slug,
                schedule,
                enabled.get(source.slug, source.enabled),
                now,
                last_run=last.get(source.id),
                last_success=success.get(source.id),
                last_finished=finished.get(source.id),
            )
        )
    known = {source.slug for source in sources}
    for slug, schedule in schedules.items():
        if slug not in known:
            on = enabled.get(slug, True)
            result.append(_health(slug, names.get(slug) or slug, schedule, on, now))
    return sorted(result, key=lambda h: (h.name.casefold(), h.slug))


def _health(
    slug: str,
    name: str,
    schedule: str,
    enabled: bool,
    now: datetime,
    *,
    last_run: CrawlRun | None = None,
    last_success: CrawlRun | None = None,
    last_finished: CrawlRun | None = None,
) -> SourceHealth:
    stale = False
    if enabled:
        if last_success is None:
            stale = True
        else:
            since = last_success.started_at
            stale = now - since > stale_after(schedule, since)
    return SourceHealth(
        slug=slug,
        name=name,
        last_run=last_run,
        last_success=last_success,
        failed=last_finished is not None and last_finished.outcome == "failed",
        stale=stale,
        next_run=next_run_at(schedule, now) if enabled else None,
        schedule=schedule,
        enabled=enabled,
    )


def recent_runs(session: Session, per_source: int = RECENT_RUNS) -> dict[str, list[CrawlRun]]:
    """Per source slug, its newest ``per_source`` runs, newest first (one query)."""
    ranked = _runs_by_position().subquery()
    rows = session.execute(
        select(Source.slug, CrawlRun)
        .join(ranked, ranked.c.id == CrawlRun.id)
        .join(Source, Source.id == CrawlRun.source_id)
        .where(ranked.c.position <= per_source)
        .order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc())
    )
    runs: dict[str, list[CrawlRun]] = {}
    for slug, run in rows:
        runs.setdefault(slug, []).append(run)
    return runs


def source_runs(session: Session, slug: str, limit: int = 20) -> list[CrawlRun]:
    """The newest ``limit`` runs of one source, newest first."""
    return list(
        session.scalars(
            select(CrawlRun)
            .join(Source, Source.id == CrawlRun.source_id)
            .where(Source.slug == slug)
            .order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc())
            .limit(limit)
        )
    )
