"""Doing the queued work: crawls an admin started and re-ranks the desk asked for.

The web app only records ``WorkItem`` rows (``storage.work_queue``); the scheduler's
``queue`` and ``rematch`` jobs, or ``foerderdesk queue drain``, do them here. A failure is
recorded on its items and never lost silently.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from crawler.runs import EXIT_BUSY
from scheduler.pipeline import Crawler, CrawlRunner, Rematcher, default_rematcher, rematch_due
from storage.config import Settings
from storage.db import session_scope
from storage.models import WorkItem, utcnow
from storage.work_queue import claim, finish, requeue_stale

log = logging.getLogger(__name__)


def stale_after(settings: Settings) -> timedelta:
    """A running item older than this was left by a drainer that died (no work takes so long)."""
    return timedelta(seconds=2 * settings.crawl_timeout_seconds)


@dataclass
class DrainReport:
    """What one pass over the queue did."""

    rematched_profiles: int = 0
    rematched_all: bool = False
    crawls: int = 0
    failed: int = 0
    requeued: int = 0

    @property
    def did_anything(self) -> bool:
        return bool(
            self.rematched_profiles
            or self.rematched_all
            or self.crawls
            or self.failed
            or self.requeued
        )

    def __str__(self) -> str:
        rematched = (
            "every profile" if self.rematched_all else f"{self.rematched_profiles} profile(s)"
        )
        text = f"{self.crawls} crawl(s), {rematched} re-ranked, {self.failed} failed"
        if self.requeued:
            text += f", {self.requeued} abandoned item(s) queued again"
        return text


def drain_crawls(
    factory: sessionmaker[Session], settings: Settings, crawler: Crawler, report: DrainReport
) -> None:
    """Run every queued crawl, one after the other; the re-match is the ``rematch`` step's."""
    with session_scope(factory) as session:
        report.requeued += requeue_stale(session, utcnow() - stale_after(settings))
    while True:
        with session_scope(factory) as session:
            items = claim(session, "crawl", limit=1)
            if not items:
                return
            item_id, slug = items[0].id, items[0].source_slug or ""
        code = crawler(slug)
        with session_scope(factory) as session:
            item = session.get_one(WorkItem, item_id)
            if code == EXIT_BUSY:
                finish(session, [item], error=f"{slug} was being crawled by another process")
                report.failed += 1
            elif code not in (0, 3):  # 3: partial, what was stored is kept
                finish(session, [item], error=f"crawl of {slug} exited with code {code}")
                report.failed += 1
            else:
                finish(session, [item])
                report.crawls += 1


def drain_queue(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    rematcher: Rematcher | None = None,
    crawler: Crawler | None = None,
) -> DrainReport:
    """Do everything queued now: the crawls first, then one re-match of what is due (every
    profile if calls changed, else the queued profiles)."""
    report = DrainReport()
    drain_crawls(factory, settings, crawler or CrawlRunner(settings, factory), report)
    rematched = rematch_due(factory, rematcher or default_rematcher(settings))
    if rematched.run_id is not None:
        if rematched.failed:
            report.failed += max(rematched.profiles, 1)
            log.error("%s", rematched)
        elif rematched.full:
            report.rematched_all = True
        else:
            report.rematched_profiles = rematched.profiles
    return report
