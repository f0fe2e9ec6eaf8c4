"""The work queue: asking twice adds nothing, claims are exclusive, abandoned work returns."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import WorkItem, utcnow
from storage.work_queue import (
    claim,
    enqueue_crawl,
    enqueue_rematch,
    finish,
    requeue_stale,
    waiting_crawls,
    waiting_rematches,
)
from tests.storage.factories import make_profile, make_source


def test_a_profile_waits_for_one_rematch_however_often_it_is_asked(session: Session) -> None:
    profile, other = make_profile(session, "a"), make_profile(session, "b")
    first = enqueue_rematch(session, profile.id, reason="review")
    assert enqueue_rematch(session, profile.id, reason="profile edited") is first
    enqueue_rematch(session, other.id, reason="review")
    assert session.scalar(select(func.count(WorkItem.id))) == 2
    assert waiting_rematches(session) == {profile.id, other.id}
    assert waiting_rematches(session, [other.id]) == {other.id}


def test_a_running_rematch_does_not_swallow_a_later_request(session: Session) -> None:
    profile = make_profile(session)
    running = enqueue_rematch(session, profile.id, reason="review")
    claim(session, "rematch")
    # The running re-rank read the reviews before this one: a new item must follow it.
    later = enqueue_rematch(session, profile.id, reason="review")
    assert later is not running and later.state == "queued"
    assert waiting_rematches(session) == {profile.id}


def test_claim_takes_queued_items_of_one_kind_oldest_first(session: Session) -> None:
    source = make_source(session, "quelle")
    profile = make_profile(session)
    crawl = enqueue_crawl(session, source.slug, reason="crawl now")
    rematch = enqueue_rematch(session, profile.id, reason="review")
    assert claim(session, "crawl") == [crawl]
    assert crawl.state == "running" and crawl.started_at is not None
    assert claim(session, "crawl") == []
    assert waiting_crawls(session) == {"quelle": crawl}
    finish(session, [crawl], error="exit code 1")
    assert (crawl.state, crawl.error) == ("failed", "exit code 1")
    assert waiting_crawls(session) == {}
    (claimed,) = claim(session, "rematch")
    finish(session, [claimed])
    assert (rematch.state, rematch.error, waiting_rematches(session)) == ("done", None, set())


def test_work_left_running_by_a_dead_drainer_is_queued_again(session: Session) -> None:
    profile = make_profile(session)
    item = enqueue_rematch(session, profile.id, reason="review")
    claim(session, "rematch")
    assert requeue_stale(session, utcnow() - timedelta(hours=2)) == 0  # still fresh
    item.started_at = utcnow() - timedelta(hours=3)
    assert requeue_stale(session, utcnow() - timedelta(hours=2)) == 1
    assert item.state == "queued" and claim(session, "rematch") == [item]
