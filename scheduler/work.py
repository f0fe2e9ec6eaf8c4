"""Doing the queued work: re-ranks the desk asked for and crawls an admin started.

The web app only records ``WorkItem`` rows (``storage.work_queue``); this module does them in
the scheduler's process. Every queued re-rank is done by one re-match of those profiles, and
a crawl runs as a subprocess (``python -m crawler SLUG``) with a time-out, then re-matches
everything if calls changed. A failure is recorded on the items and never lost silently.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crawler.cli import crawl_environment
from matcher.runs import rematch
from storage.config import Settings
from storage.db import session_scope
from storage.models import CrawlRun, MatchRun, WorkItem, utcnow
from storage.work_queue import claim, finish, requeue_stale

log = logging.getLogger(__name__)

CRAWL_TIMEOUT_SECONDS = 3600
# A running item older than this was left by a drainer that died (no work takes that long).
STALE_AFTER = timedelta(seconds=2 * CRAWL_TIMEOUT_SECONDS)

Rematcher = Callable[[Session, Sequence[int] | None, str], MatchRun]
Crawler = Callable[[str], int]


@dataclass
class DrainReport:
    """What one pass over the queue did."""

    rematched_profiles: int = 0
    crawls: int = 0
    failed: int = 0
    requeued: int = 0

    @property
    def did_anything(self) -> bool:
        return bool(self.rematched_profiles or self.crawls or self.failed or self.requeued)


def default_rematcher(settings: Settings) -> Rematcher:
    """Re-match through the matcher with the installation's dictionary and cache."""

    def run(session: Session, profile_ids: Sequence[int] | None, trigger: str) -> MatchRun:
        return rematch(
            session,
            trigger=trigger,
            profile_ids=profile_ids,
            dictionary_path=settings.freedict_path,
            cache_folder=settings.instance_path / "matcher",
        )

    return run


def default_crawler(settings: Settings, timeout: float = CRAWL_TIMEOUT_SECONDS) -> Crawler:
    """Crawl one source in a process of its own; its exit code (124 when it timed out)."""

    def run(slug: str) -> int:
        command = [sys.executable, "-m", "crawler", slug]
        try:
            return subprocess.run(
                command, env=crawl_environment(settings), check=False, timeout=timeout
            ).returncode
        except subprocess.TimeoutExpired:
            log.error("crawl of %s killed after %s s", slug, timeout)
            return 124

    return run


def drain_queue(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    rematcher: Rematcher | None = None,
    crawler: Crawler | None = None,
) -> DrainReport:
    """Do everything queued now: the crawls first (their re-match covers every profile),
    then the re-ranks of single profiles."""
    rematcher = rematcher or default_rematcher(settings)
    crawler = crawler or default_crawler(settings)
    report = DrainReport()
    with session_scope(factory) as session:
        report.requeued = requeue_stale(session, utcnow() - STALE_AFTER)
    _drain_crawls(factory, rematcher, crawler, report)
    _drain_rematches(factory, rematcher, report)
    return report


def _drain_crawls(
    factory: sessionmaker[Session], rematcher: Rematcher, crawler: Crawler, report: DrainReport
) -> None:
    while True:
        with session_scope(factory) as session:
            items = claim(session, "crawl", limit=1)
            if not items:
                return
            item_id, slug = items[0].id, items[0].source_slug or ""
            runs_before = session.scalar(select(func.max(CrawlRun.id))) or 0
        code = crawler(slug)
        with session_scope(factory) as session:
            (item,) = claim_back(session, item_id)
            if code not in (0, 3):  # 3: partial, what was stored is kept
                finish(session, [item], error=f"crawl of {slug} exited with code {code}")
                report.failed += 1
            else:
                finish(session, [item])
                report.crawls += 1
            changed = session.scalar(
                select(
                    func.coalesce(
                        func.sum(
                            CrawlRun.calls_new + CrawlRun.calls_updated + CrawlRun.calls_withdrawn
                        ),
                        0,
                    )
                ).where(CrawlRun.id > runs_before)
            )
        if changed:
            with session_scope(factory) as session:
                run = rematcher(session, None, "crawl")
                if run.outcome != "succeeded":
                    log.error("re-match after the crawl of %s failed; previous matches kept", slug)


def _drain_rematches(
    factory: sessionmaker[Session], rematcher: Rematcher, report: DrainReport
) -> None:
    with session_scope(factory) as session:
        items = claim(session, "rematch")
        ids = [item.id for item in items]
        profile_ids = sorted({item.profile_id for item in items if item.profile_id is not None})
    if not ids:
        return
    with session_scope(factory) as session:
        run = rematcher(session, profile_ids, "queue")
        done = claim_back(session, *ids)
        if run.outcome == "succeeded":
            finish(session, done)
            report.rematched_profiles += len(profile_ids)
        else:
            finish(session, done, error=str((run.parameters or {}).get("error", "re-match failed")))
            report.failed += len(done)


def claim_back(session: Session, *item_ids: int) -> list[WorkItem]:
    """The claimed items again, in a new session (the claim was committed in another)."""
    return [session.get_one(WorkItem, item_id) for item_id in item_ids]
