"""The pipeline's steps as functions: crawl one source, re-match when calls or profiles
changed.

The scheduler's jobs, the work queue and the ``crawl`` and ``profiles import`` commands all
call these, so no command starts another. A crawl runs as ``python -m crawler SLUG`` in a
process of its own (Twisted's reactor cannot restart, and one broken site must not take the
scheduler down), with a time-out; whatever ends it, its run is recorded.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from sqlalchemy.orm import Session, sessionmaker

from crawler.cli import crawl_environment
from crawler.runs import EXIT_BUSY
from matcher.runs import rematch
from storage.calls import CrawlCounts, finish_crawl_run, start_crawl_run
from storage.config import Settings
from storage.db import session_scope
from storage.matching import calls_changed_since_full_rematch
from storage.models import MatchRun, WorkItem, utcnow
from storage.queries import crawl_runs_since, get_source
from storage.work_queue import claim, finish

log = logging.getLogger(__name__)

TIMED_OUT = 124  # the exit code of a crawl killed at its time-out, as timeout(1) has it
STOP_GRACE_SECONDS = 30.0  # a stopped crawl gets this long to record itself before a kill
# Exit codes of ``python -m crawler``: 0 succeeded, 3 partial (what was stored is kept), 1
# failed (recorded by the crawl itself), 4 busy (another process crawls the source: nothing
# to record); anything else ended it before it could record.
RECORDED_CODES = (0, 1, 3, EXIT_BUSY)

Rematcher = Callable[[Session, Sequence[int] | None, str], MatchRun]
Crawler = Callable[[str], int]


def default_rematcher(settings: Settings) -> Rematcher:
    """Re-match through the matcher with the installation's dictionary and its parsed index."""

    def run(session: Session, profile_ids: Sequence[int] | None, trigger: str) -> MatchRun:
        return rematch(
            session,
            trigger=trigger,
            profile_ids=profile_ids,
            dictionary_path=settings.freedict_path,
            index_folder=settings.matcher_path,
        )

    return run


class CrawlRunner:
    """Crawls one source at a time in a process of its own; ``stop()`` ends running crawls.

    Called with a slug, it returns the crawl's exit code. A crawl still running after
    ``timeout`` seconds is stopped (SIGTERM, then SIGKILL after a grace period) and its run
    recorded as failed with the reason, as is one stopped because the scheduler shuts down.
    """

    def __init__(
        self,
        settings: Settings,
        factory: sessionmaker[Session],
        *,
        mirror: str = "",
        timeout: float | None = None,
        grace: float = STOP_GRACE_SECONDS,
        command: Callable[[str], list[str]] | None = None,
        output: IO[str] | None = None,
    ) -> None:
        self.settings = settings
        self.factory = factory
        self.mirror = mirror
        self.timeout = timeout if timeout is not None else settings.crawl_timeout_seconds
        self.grace = grace
        self.command = command or self._crawl_command
        self.output = output  # where the crawl's own log goes (default: this process's)
        self.stopping = threading.Event()
        self._running: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()

    def _crawl_command(self, slug: str) -> list[str]:
        command = [sys.executable, "-m", "crawler", slug]
        return [*command, "--mirror", self.mirror] if self.mirror else command

    def __call__(self, slug: str) -> int:
        if self.stopping.is_set():
            return TIMED_OUT
        started = utcnow()
        process = subprocess.Popen(
            self.command(slug),
            env=crawl_environment(self.settings),
            stdout=self.output,
            stderr=subprocess.STDOUT if self.output else None,
        )
        with self._lock:
            self._running.add(process)
        reason = ""
        try:
            try:
                code = process.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                log.error("crawl of %s still running after %.0f s: stopping it", slug, self.timeout)
                self._end(process)
                code = TIMED_OUT
                reason = f"killed: still running after {self.timeout:.0f} s (the crawl time-out)"
        finally:
            with self._lock:
                self._running.discard(process)
        if code not in RECORDED_CODES or reason:
            if not reason:
                reason = (
                    "stopped: the scheduler shut down"
                    if self.stopping.is_set()
                    else f"the crawl process ended with code {code} before recording its outcome"
                )
            with session_scope(self.factory) as session:
                record_unfinished_crawl(session, slug, started, reason)
        return code

    def _end(self, process: subprocess.Popen[bytes]) -> None:
        process.terminate()  # Scrapy closes the spider on SIGTERM and records the run
        self._kill_after_grace(process)

    def _kill_after_grace(self, process: subprocess.Popen[bytes]) -> None:
        try:
            process.wait(timeout=self.grace)
        except subprocess.TimeoutExpired:
            log.error("a crawl did not stop within %.0f s: killing it", self.grace)
            process.kill()
            process.wait()

    def stop(self) -> None:
        """Stop every running crawl: SIGTERM (Scrapy closes the spider and records the run),
        then SIGKILL for one still running after the grace period (recorded as stopped)."""
        self.stopping.set()
        with self._lock:
            running = [p for p in self._running if p.poll() is None]
        for process in running:  # all at once, so the grace periods run side by side
            process.terminate()
        for process in running:
            self._kill_after_grace(process)


def record_unfinished_crawl(session: Session, slug: str, since: datetime, reason: str) -> None:
    """Close the runs of ``slug`` since ``since`` that are still ``running`` as failed with
    ``reason``; without one (the process died before it opened its run), record one."""
    source = get_source(session, slug)
    if source is None:
        log.error("crawl of %s failed before the source was stored: %s", slug, reason)
        return
    runs = crawl_runs_since(session, slug, since)
    if not runs:
        runs = [start_crawl_run(session, source, now=since)]
    for run in (r for r in runs if r.outcome == "running"):
        finish_crawl_run(session, run, "failed", CrawlCounts(), reason=reason)


def describe_match_run(run: MatchRun) -> str:
    """One line a person reads about a re-match: what it ranked, or why it failed."""
    if run.outcome != "succeeded":
        error = (run.parameters or {}).get("error", "unknown error")
        return f"FAILED — {error}; the previous matches are kept"
    took = run.duration_seconds or 0.0
    return (
        f"{run.matches_count} matches for {run.profiles_count} profiles from "
        f"{run.calls_count} rankable calls ({took:.1f} s)"
    )


@dataclass
class RematchReport:
    """What one re-match step did."""

    full: bool = False
    profiles: int = 0
    failed: bool = False
    error: str = ""
    run_id: int | None = None

    def __str__(self) -> str:
        if self.run_id is None:
            return "nothing to re-match"
        what = "every profile" if self.full else f"{self.profiles} profile(s)"
        if self.failed:
            return f"re-match of {what} failed ({self.error}); the previous matches are kept"
        return f"re-matched {what} (match run {self.run_id})"


def rematch_due(
    factory: sessionmaker[Session], rematcher: Rematcher, *, full_allowed: bool = True
) -> RematchReport:
    """Re-match what is due: every profile when calls changed since the last full re-match,
    otherwise the profiles the web app queued. A failed run keeps the previous matches and
    is tried again next time (the calls still count as changed); ``full_allowed=False``
    holds that retry back while the queued profiles are still done."""
    with session_scope(factory) as session:
        items = claim(session, "rematch")
        item_ids = [item.id for item in items]
        profile_ids = sorted({item.profile_id for item in items if item.profile_id is not None})
        full = full_allowed and calls_changed_since_full_rematch(session)
    report = RematchReport(full=full, profiles=len(profile_ids))
    if not full and not item_ids:
        return report
    with session_scope(factory) as session:
        run = rematcher(session, None if full else profile_ids, "crawl" if full else "queue")
        report.run_id = run.id
        done = [session.get_one(WorkItem, item_id) for item_id in item_ids]
        if run.outcome == "succeeded":
            finish(session, done)
        else:
            report.failed = True
            report.error = str((run.parameters or {}).get("error", "re-match failed"))
            finish(session, done, error=report.error)
    return report
