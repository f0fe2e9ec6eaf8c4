"""Crawl runs: run one source in this process, record its outcome, report progress.

One process crawls one source (Twisted's reactor cannot restart, and one broken site must
not take the others down); :mod:`crawler.cli` starts one ``python -m crawler`` per source.

Outcome rules:
- the spider closed for any reason other than ``finished`` (``blocked: ...`` from a spider
  that saw a CAPTCHA page, a shutdown, an exception): **failed**, the reason is stored;
- finished, but nothing came out of the source at all: **failed** ("0 raw items" is a broken
  source, not an empty one, and must not withdraw every stored call);
- finished with errors (a request that failed after its retries, a page that did not
  parse, a call that could not be stored): **partial**;
- otherwise **succeeded**, and only then are calls absent from the crawl withdrawn.

A spider that learns its source is unchanged since its last complete read (the
Förderdatenbank export answering 304) sets ``foerderdesk/source_unchanged``: the run
succeeds without items, and every stored call of the source counts as seen, so nothing is
withdrawn. A spider's own report (``foerderdesk/report``: what the source held, what was
kept and why not) becomes the run's reason, beside any failure.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any, Self

import click
from scrapy import Spider, signals
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import StatsCollector
from sqlalchemy import Engine, select

from crawler.settings import build_scrapy_settings
from crawler.sources import SourceEntry
from storage.call_details import known_details
from storage.calls import (
    CrawlCounts,
    finish_crawl_run,
    mark_seen,
    start_crawl_run,
    sync_source,
)
from storage.config import Settings
from storage.db import make_engine, make_session_factory, session_scope
from storage.locks import LeaseLock
from storage.models import CrawlRun, utcnow

logger = logging.getLogger(__name__)

EXIT_CODES = {"succeeded": 0, "partial": 3, "failed": 1}
# Another process crawls this source right now: this one changed nothing (``CrawlBusy``).
EXIT_BUSY = 4
CRAWL_LOCK_TTL = timedelta(seconds=60)


class CrawlBusy(Exception):
    """The source is being crawled by another process; its message says by whom, since when."""


def counts_from_stats(stats: dict[str, Any]) -> CrawlCounts:
    """The run's counts from Scrapy's stats (see the ``foerderdesk/*`` keys the pipelines set)."""
    prefix = "foerderdesk/dropped/"
    dropped = {k[len(prefix) :]: int(v) for k, v in stats.items() if k.startswith(prefix)}
    scraped = int(stats.get("item_scraped_count", 0))
    return CrawlCounts(
        requests=int(stats.get("downloader/request_count", 0)),
        items_seen=scraped + sum(dropped.values()),
        calls_new=int(stats.get("foerderdesk/calls_new", 0)),
        calls_updated=int(stats.get("foerderdesk/calls_updated", 0)),
        calls_unchanged=int(stats.get("foerderdesk/calls_unchanged", 0)),
        dropped=dropped,
        errors=int(stats.get("log_count/ERROR", 0))
        + int(stats.get("foerderdesk/lost_in_batch", 0)),
        details_fetched=int(stats.get("foerderdesk/details_fetched", 0)),
        details_skipped=int(stats.get("foerderdesk/details_skipped", 0)),
        details_missing=int(stats.get("foerderdesk/details_missing", 0)),
    )


def decide_outcome(
    finish_reason: str | None, counts: CrawlCounts, *, unchanged: bool = False
) -> tuple[str, str | None]:
    """``(outcome, reason)`` for a run that closed with ``finish_reason`` (module docstring)."""
    if finish_reason != "finished":
        return "failed", finish_reason or "the crawl ended without a close reason"
    if unchanged and not counts.errors:
        return "succeeded", None
    if counts.items_seen == 0:
        return "failed", "no items: the source returned nothing (moved, empty or broken?)"
    if counts.errors:
        return "partial", f"{counts.errors} error(s) during the crawl; nothing withdrawn"
    return "succeeded", None


def _close_stale_runs(session: Any, source_id: int, now: datetime) -> None:
    """Runs left ``running`` by a killed process: they failed. Called holding the source's
    lock, so no other process is crawling it and every running row was abandoned."""
    stale = session.scalars(
        select(CrawlRun).where(CrawlRun.source_id == source_id, CrawlRun.outcome == "running")
    ).all()
    for run in stale:
        run.outcome = "failed"
        run.reason = "interrupted: the crawl process ended without recording its outcome"
        run.finished_at = now


def run_source(
    settings: Settings,
    entry: SourceEntry,
    *,
    mirror: str = "",
    overrides: dict[str, Any] | None = None,
) -> CrawlRun:
    """Crawl ``entry`` once in this process and record the run. Call once per process.

    Holds the source's lock (``crawl:<slug>``) for the whole crawl, so two crawls of one
    source never run at once; raises :class:`CrawlBusy`, having changed nothing, when
    another process holds it.
    """
    engine = make_engine(settings, write_lock_first=True)
    lock = LeaseLock(
        engine, name=f"crawl:{entry.slug}", ttl=CRAWL_LOCK_TTL, what=f"crawl of {entry.slug}"
    )
    if not lock.try_acquire():
        lease = lock.current()
        engine.dispose()
        who = (
            f" by {lease.holder.rsplit(':', 1)[0]} since {lease.acquired_at:%H:%M} UTC"
            if lease
            else ""
        )
        raise CrawlBusy(f"{entry.slug} is being crawled{who}; this crawl changed nothing")
    stop_renewing = threading.Event()
    renewer = threading.Thread(target=_keep_renewing, args=(lock, stop_renewing), daemon=True)
    renewer.start()
    try:
        return _crawl_holding_the_lock(settings, entry, engine, mirror=mirror, overrides=overrides)
    finally:
        stop_renewing.set()
        renewer.join(timeout=10)
        lock.release()
        engine.dispose()


def _keep_renewing(lock: LeaseLock, stop: threading.Event) -> None:
    while not stop.wait(lock.ttl.total_seconds() / 3):
        if not lock.renew():
            logger.error("lost the lock %s while crawling", lock.name)
            return


def _crawl_holding_the_lock(
    settings: Settings,
    entry: SourceEntry,
    engine: Engine,
    *,
    mirror: str,
    overrides: dict[str, Any] | None,
) -> CrawlRun:
    factory = make_session_factory(engine)
    mirror = mirror or settings.crawl_mirror
    with session_scope(factory) as session:
        source = sync_source(session, entry.as_dict())
        _close_stale_runs(session, source.id, utcnow())
        run = start_crawl_run(session, source, mirror=mirror)
        run_id = run.id
        # What the store knows of each call's details: the spider skips unchanged ones.
        known = known_details(session, entry.slug)

    scrapy_settings = build_scrapy_settings(
        settings, source_settings=entry.settings, mirror=mirror, overrides=overrides
    )
    scrapy_settings.set("FOERDERDESK_SOURCE", entry.as_dict(), priority="cmdline")
    scrapy_settings.set("FOERDERDESK_RUN_ID", run_id, priority="cmdline")
    stats: dict[str, Any] = {}
    finish_reason: str | None = None
    try:
        process = CrawlerProcess(scrapy_settings, install_root_handler=True)
        crawler = process.create_crawler(entry.spider)
        process.crawl(crawler, source=entry.slug, config=dict(entry.settings), known=known)
        process.start()
        assert crawler.stats is not None
        stats = crawler.stats.get_stats()
        finish_reason = stats.get("finish_reason")
    except Exception as exc:  # the crawl itself broke: record it, do not lose the run row
        logger.exception("crawl of %s broke", entry.slug)
        finish_reason = f"error: {exc}"

    unchanged = bool(stats.get("foerderdesk/source_unchanged")) and finish_reason == "finished"
    if unchanged:
        stats["foerderdesk/calls_unchanged"] = _keep_as_seen(factory, entry.slug, known)
    counts = counts_from_stats(stats)
    outcome, reason = decide_outcome(finish_reason, counts, unchanged=unchanged)
    report = str(stats.get("foerderdesk/report") or "")
    if report:
        reason = f"{reason}; {report}" if reason else report
    with session_scope(factory) as session:
        run = session.get(CrawlRun, run_id)
        assert run is not None
        finish_crawl_run(session, run, outcome, counts, reason=reason)
        summary = summary_line(run)  # loads run.source while the session is open
    logger.info("%s", summary)
    return run


def _keep_as_seen(factory: Any, slug: str, known: dict[str, Any]) -> int:
    """Mark every live call of ``slug`` seen (its source is unchanged); how many."""
    with session_scope(factory) as session:
        return sum(mark_seen(session, slug, source_id) for source_id in known)


def summary_line(run: CrawlRun) -> str:
    """One line a person reads at the end of a crawl."""
    dropped = ", ".join(f"{k} {v}" for k, v in sorted(run.dropped.items())) or "none"
    details = ""
    if run.details_fetched or run.details_skipped or run.details_missing:
        details = (
            f"{run.details_fetched or 0} details fetched, {run.details_skipped or 0} details "
            f"skipped as unchanged, {run.details_missing or 0} details missing (retried next "
            "run), "
        )
    return (
        f"{run.source.slug if run.source else run.source_id}: {run.outcome}"
        f"{' (' + run.reason + ')' if run.reason else ''} — {run.requests} requests, "
        f"{run.items_seen} items, {run.calls_new} new, {run.calls_updated} updated, "
        f"{run.calls_unchanged} unchanged, {run.calls_withdrawn} withdrawn, dropped: {dropped}, "
        f"{details}{run.errors} errors, {run.duration_seconds or 0:.1f} s"
    )


def runs_table(runs: list[CrawlRun]) -> str:
    """The runs as a fixed-width table (``foerderdesk crawl --status``)."""
    header = (
        f"{'id':>5}  {'source':24} {'started (UTC)':16}  {'outcome':9} {'secs':>6} "
        f"{'req':>5} {'new':>5} {'upd':>5} {'same':>5} {'drop':>5} {'wdr':>4} {'err':>4}  reason"
    )
    lines = [header, "-" * len(header)]
    for run in runs:
        dropped = sum(run.dropped.values()) if run.dropped else 0
        lines.append(
            f"{run.id:>5}  {run.source.slug[:24]:24} {run.started_at:%Y-%m-%d %H:%M}  "
            f"{run.outcome:9} {run.duration_seconds or 0:>6.1f} {run.requests:>5} "
            f"{run.calls_new:>5} {run.calls_updated:>5} {run.calls_unchanged:>5} {dropped:>5} "
            f"{run.calls_withdrawn:>4} {run.errors:>4}  {(run.reason or '')[:60]}"
        )
    if not runs:
        lines.append("no crawl runs yet (run: foerderdesk crawl)")
    return "\n".join(lines)


class ProgressReporter:
    """Prints a progress line every ``FOERDERDESK_PROGRESS_EVERY`` items to the terminal."""

    def __init__(self, stats: StatsCollector, every: int) -> None:
        self.stats = stats
        self.every = every
        self.items = 0
        self.started = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Connect to the item signals (disabled with ``FOERDERDESK_PROGRESS_EVERY = 0``)."""
        every = crawler.settings.getint("FOERDERDESK_PROGRESS_EVERY", 100)
        if every <= 0:
            raise NotConfigured
        assert crawler.stats is not None
        reporter = cls(crawler.stats, every)
        crawler.signals.connect(reporter.item_done, signal=signals.item_scraped)
        crawler.signals.connect(reporter.item_done, signal=signals.item_dropped)
        crawler.signals.connect(reporter.spider_closed, signal=signals.spider_closed)
        return reporter

    def item_done(self, **_: Any) -> None:
        """Count one item; print a line every ``every`` items."""
        self.items += 1
        if self.items % self.every == 0:
            click.echo(self._line(), err=True)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        """The last progress line, with the close reason."""
        click.echo(f"{self._line()} — closed: {reason}", err=True)

    def _line(self) -> str:
        elapsed = time.monotonic() - self.started
        get = self.stats.get_value
        return (
            f"[{elapsed:6.1f}s] {self.items} items ({self.items / max(elapsed, 1e-6):.1f}/s), "
            f"{get('foerderdesk/calls_new', 0)} new, {get('foerderdesk/calls_updated', 0)} "
            f"updated, {get('foerderdesk/calls_unchanged', 0)} unchanged, "
            f"{get('downloader/request_count', 0)} requests"
        )
