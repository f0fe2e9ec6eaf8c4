"""Storage functions of matching: what is loaded, and how matches are replaced."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.matching import (
    count_matches,
    finish_match_run,
    latest_match_run,
    load_active_profiles,
    load_rankable_calls,
    matches_for_profile,
    read_feedback,
    replace_matches,
    start_match_run,
)
from storage.models import Match, Review
from tests.storage.factories import make_call, make_profile

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
STATUSES = ["shortlisted", "not_relevant", "reviewing", "awarded"]


def test_rankable_calls_are_open_or_forthcoming_as_of_now(session: Session) -> None:
    open_call = make_call(session, deadlines=[NOW + timedelta(days=60)])
    forthcoming = make_call(
        session, deadlines=[NOW + timedelta(days=200)], opening_date=date(2026, 9, 1)
    )
    rolling = make_call(session, deadline_model="rolling")
    make_call(session, deadlines=[NOW - timedelta(days=1)])  # closed since the last crawl
    make_call(session, deadlines=[NOW + timedelta(days=60)], withdrawn_at=NOW)
    make_call(session, status="closed")  # no dates; the source said closed
    ids = [c.id for c in load_rankable_calls(session, NOW)]
    assert ids == [open_call.id, forthcoming.id, rolling.id]


def test_active_profiles_only(session: Session) -> None:
    a = make_profile(session, "aktiv")
    make_profile(session, "ruhend", active=False)
    b = make_profile(session, "auch-aktiv")
    assert [p.id for p in load_active_profiles(session)] == [a.id, b.id]
    assert [p.id for p in load_active_profiles(session, [b.id])] == [b.id]


def test_reviews_become_feedback(session: Session) -> None:
    profile = make_profile(session)
    calls = [make_call(session) for _ in range(4)]
    for call, status in zip(calls, STATUSES, strict=True):
        session.add(Review(profile_id=profile.id, call_id=call.id, status=status))
    session.flush()
    feedback = read_feedback(session)[profile.id]
    assert feedback.relevant == {calls[0].id, calls[3].id}
    assert feedback.not_relevant == {calls[1].id}


def _rows(profile_id: int, call_ids: list[int]) -> list[dict[str, Any]]:
    return [
        {"profile_id": profile_id, "call_id": cid, "score": 1.0 / rank, "rank": rank}
        for rank, cid in enumerate(call_ids, start=1)
    ]


def test_replacing_one_profiles_matches_keeps_the_others(session: Session) -> None:
    p1, p2 = make_profile(session, "eins"), make_profile(session, "zwei")
    calls = [make_call(session).id for _ in range(3)]
    run = start_match_run(session, trigger="manual")
    replace_matches(session, run, _rows(p1.id, calls) + _rows(p2.id, calls[:1]))
    second = start_match_run(session, trigger="profile")
    stored = replace_matches(session, second, _rows(p1.id, calls[::-1][:2]), profile_ids=[p1.id])
    assert stored == 2
    assert [m.call_id for m in matches_for_profile(session, p1.id)] == calls[::-1][:2]
    assert [m.call_id for m in matches_for_profile(session, p2.id)] == calls[:1]
    assert count_matches(session) == 3


def test_a_failure_while_writing_leaves_the_old_matches(session: Session) -> None:
    profile = make_profile(session)
    calls = [make_call(session).id for _ in range(3)]
    run = start_match_run(session, trigger="manual")
    replace_matches(session, run, _rows(profile.id, calls))
    session.commit()

    def rows_that_break() -> Iterator[dict[str, Any]]:
        yield from _rows(profile.id, calls[:1])
        raise RuntimeError("ranking crashed half-way")

    failing = start_match_run(session, trigger="crawl")
    with pytest.raises(RuntimeError):
        replace_matches(session, failing, rows_that_break())
    with pytest.raises(IntegrityError):  # a call that does not exist
        replace_matches(session, failing, _rows(profile.id, [calls[0], 987_654]))
    finish_match_run(
        session,
        failing,
        outcome="failed",
        profiles_count=1,
        calls_count=3,
        matches_count=0,
        duration_seconds=0.1,
        error="RuntimeError: ranking crashed half-way",
    )
    session.commit()
    assert [m.call_id for m in matches_for_profile(session, profile.id)] == calls
    assert set(session.scalars(select(Match.match_run_id))) == {run.id}
    latest = latest_match_run(session)
    assert latest is not None and latest.outcome == "failed"
    assert latest.parameters["error"].startswith("RuntimeError")


def test_a_re_match_keeps_each_pairs_match_id_and_when_it_first_matched(session: Session) -> None:
    profile = make_profile(session)
    kept, dropped, new = (make_call(session).id for _ in range(3))
    with time_machine.travel(NOW, tick=False):
        replace_matches(
            session, start_match_run(session, trigger="cli"), _rows(profile.id, [kept, dropped])
        )
    kept_id = {m.call_id: m.id for m in matches_for_profile(session, profile.id)}[kept]
    later = NOW + timedelta(days=2)
    with time_machine.travel(later, tick=False):
        replace_matches(
            session, start_match_run(session, trigger="cli"), _rows(profile.id, [new, kept])
        )
    first = {m.call_id: m.first_matched_at for m in matches_for_profile(session, profile.id)}
    assert first == {new: later, kept: NOW}
    assert {m.call_id: m.id for m in matches_for_profile(session, profile.id)}[kept] == kept_id
    # A call that left the list and comes back is new again: the desk has not seen it lately.
    with time_machine.travel(later + timedelta(days=1), tick=False):
        replace_matches(
            session, start_match_run(session, trigger="cli"), _rows(profile.id, [dropped])
        )
    (back,) = matches_for_profile(session, profile.id)
    assert back.first_matched_at == later + timedelta(days=1)
