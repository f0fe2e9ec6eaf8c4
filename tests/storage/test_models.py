"""The models on both databases: timestamps, constraints, cascades."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from storage.models import CallDeadline, FundingCall, Review, ReviewNote, User
from tests.storage.factories import make_call, make_profile


def test_timestamps_come_back_aware_in_utc(session: Session) -> None:
    berlin_noon = datetime(2026, 9, 19, 17, 0, tzinfo=timezone(timedelta(hours=2)))
    call = make_call(session, deadlines=[berlin_noon])
    session.commit()
    session.expire_all()
    stored = session.get(FundingCall, call.id)
    assert stored is not None
    due = stored.deadlines[0].due_at
    assert due is not None
    assert due.tzinfo is not None
    assert due.utcoffset() == timedelta(0)
    assert due == berlin_noon
    assert due.hour == 15


def test_naive_timestamps_are_refused(session: Session) -> None:
    call = make_call(session)
    call.deadlines.append(CallDeadline(due_at=datetime(2027, 1, 1, 12, 0)))
    with pytest.raises(StatementError, match="naive datetime"):
        session.flush()


def test_source_and_source_id_are_unique(session: Session) -> None:
    make_call(session, source_id="HORIZON-X")
    session.commit()
    with pytest.raises(IntegrityError):
        make_call(session, source_id="HORIZON-X")


def test_status_vocabulary_is_enforced_by_the_database(session: Session) -> None:
    with pytest.raises(IntegrityError, match="ck_funding_calls_status"):
        make_call(session, status="maybe")


def test_deleting_a_call_removes_its_deadlines_and_reviews(session: Session) -> None:
    call = make_call(session, deadlines=[datetime(2027, 3, 1, tzinfo=UTC)])
    profile = make_profile(session)
    user = User(email="desk@example.org", password_hash="x", role="desk")
    review = Review(profile_id=profile.id, call_id=call.id, status="shortlisted")
    review.notes.append(ReviewNote(body="passt gut", author=user))
    session.add_all([user, review])
    session.commit()
    session.delete(call)
    session.commit()
    assert session.scalars(select(CallDeadline)).all() == []
    assert session.scalars(select(Review)).all() == []
    assert session.scalars(select(ReviewNote)).all() == []
    assert session.scalars(select(User)).one().email == "desk@example.org"
