"""Draining the queue: the work is done outside the web app, and failures are recorded."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from scheduler.work import drain_queue
from storage.config import Settings
from storage.models import CrawlRun, MatchRun, Source, WorkItem, utcnow
from storage.work_queue import enqueue_crawl, enqueue_rematch
from tests.storage.factories import make_call, make_profile, make_source


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


class Recorder:
    """A re-matcher that records what it was asked and stores a match run like the real one."""

    def __init__(self, outcome: str = "succeeded") -> None:
        self.calls: list[tuple[list[int] | None, str]] = []
        self.outcome = outcome

    def __call__(
        self, session: Session, profile_ids: Sequence[int] | None, trigger: str
    ) -> MatchRun:
        self.calls.append((None if profile_ids is None else list(profile_ids), trigger))
        run = MatchRun(trigger=trigger, outcome=self.outcome, parameters={"error": "boom"})
        session.add(run)
        session.flush()
        return run


def _states(session: Session) -> list[tuple[str, str, str | None]]:
    session.expire_all()
    items = session.scalars(select(WorkItem).order_by(WorkItem.id))
    return [(i.kind, i.state, i.error) for i in items]


def test_every_queued_rerank_is_one_rematch_of_those_profiles(
    session: Session, factory: sessionmaker[Session], settings: Settings
) -> None:
    a, b, idle = make_profile(session, "a"), make_profile(session, "b"), make_profile(session, "c")
    enqueue_rematch(session, b.id, reason="review")
    enqueue_rematch(session, a.id, reason="profile edited")
    session.commit()
    rematcher = Recorder()
    report = drain_queue(factory, settings, rematcher=rematcher, crawler=lambda slug: 0)
    assert rematcher.calls == [(sorted([a.id, b.id]), "queue")]
    assert idle.id not in rematcher.calls[0][0]
    assert report.rematched_profiles == 2 and report.failed == 0
    assert _states(session) == [("rematch", "done", None)] * 2
    # Nothing queued: nothing done.
    assert not drain_queue(factory, settings, rematcher=rematcher, crawler=lambda s: 0).did_anything


def test_a_failed_rematch_is_recorded_on_its_items(
    session: Session, factory: sessionmaker[Session], settings: Settings
) -> None:
    enqueue_rematch(session, make_profile(session).id, reason="review")
    session.commit()
    report = drain_queue(factory, settings, rematcher=Recorder("failed"), crawler=lambda s: 0)
    assert report.failed == 1
    assert _states(session) == [("rematch", "failed", "boom")]


def test_a_crawl_now_runs_the_crawler_and_rematches_when_calls_changed(
    session: Session, factory: sessionmaker[Session], settings: Settings
) -> None:
    make_source(session, "quelle")
    make_source(session, "kaputt")
    enqueue_crawl(session, "quelle", reason="crawl now")
    enqueue_crawl(session, "kaputt", reason="crawl now")
    session.commit()
    crawled: list[str] = []

    def crawler(slug: str) -> int:
        crawled.append(slug)
        if slug == "kaputt":
            return 1
        with factory.begin() as s:  # what a crawl subprocess stores
            source = s.scalar(select(Source).where(Source.slug == slug))
            s.add(CrawlRun(source_id=source.id, outcome="succeeded", calls_new=1,
                           finished_at=utcnow()))  # fmt: skip
            make_call(s, source=slug)
        return 0

    rematcher = Recorder()
    report = drain_queue(factory, settings, rematcher=rematcher, crawler=crawler)
    assert crawled == ["quelle", "kaputt"]
    assert rematcher.calls == [(None, "crawl")]  # only the crawl that changed calls
    assert (report.crawls, report.failed) == (1, 1)
    states = _states(session)
    assert states[0] == ("crawl", "done", None)
    assert states[1][:2] == ("crawl", "failed") and "code 1" in (states[1][2] or "")
