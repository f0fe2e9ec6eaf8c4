"""The deadline calendar: pursued calls only, every stage, staff see their department's."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from storage.calendar import (
    create_calendar_token,
    pursued_deadlines,
    revoke_calendar_token,
    user_for_calendar_token,
)
from storage.models import CallDeadline, Review, User
from tests.storage.factories import make_call, make_profile

DEC = datetime(2026, 12, 1, tzinfo=UTC)
JAN = datetime(2027, 1, 1, tzinfo=UTC)


def user(session: Session, role: str = "desk", department: str = "") -> User:
    person = User(
        email=f"{role}-{department}@example.org",
        role=role,
        department=department,
        password_hash="x",
    )
    session.add(person)
    session.flush()
    return person


def review(session: Session, profile, call, status: str) -> Review:
    row = Review(profile_id=profile.id, call_id=call.id, status=status)
    session.add(row)
    session.flush()
    return row


def test_only_shortlisted_or_further_calls_are_in_the_calendar(session: Session) -> None:
    profile = make_profile(session, "umwelt", department="Umwelt")
    calls = {
        status: make_call(session, title=status, deadlines=[datetime(2026, 12, 10, tzinfo=UTC)])
        for status in ("new", "reviewing", "shortlisted", "applying", "submitted", "rejected")
    }
    for status, call in calls.items():
        review(session, profile, call, status)
    make_call(session, title="never reviewed", deadlines=[datetime(2026, 12, 11, tzinfo=UTC)])
    found = pursued_deadlines(session, [profile], DEC, JAN)
    assert sorted(d.call.title for d in found) == ["applying", "shortlisted", "submitted"]
    assert {d.status for d in found} == {"applying", "shortlisted", "submitted"}


def test_every_stage_in_the_range_is_listed_and_numbered(session: Session) -> None:
    profile = make_profile(session, "p")
    stage1 = datetime(2026, 11, 20, 16, tzinfo=UTC)
    stage2 = datetime(2026, 12, 3, 16, tzinfo=UTC)
    stage3 = datetime(2026, 12, 17, 16, tzinfo=UTC)
    call = make_call(session, deadlines=[stage3, stage1, stage2], deadline_model="multiple_cutoff")
    review(session, profile, call, "forwarded")
    found = pursued_deadlines(session, [profile], DEC, JAN)
    assert [(d.due_at, d.stage_number, d.stage_count) for d in found] == [
        (stage2, 2, 3),
        (stage3, 3, 3),
    ]
    assert len({d.key for d in found}) == 2
    everything = pursued_deadlines(session, [profile], stage1 - timedelta(days=1), JAN)
    assert [d.stage_number for d in everything] == [1, 2, 3]
    assert everything[1].key == found[0].key  # the same stage keeps its key


def test_a_yearly_date_shows_in_each_year(session: Session) -> None:
    profile = make_profile(session, "p")
    call = make_call(session, deadline_model="recurring")
    call.deadlines.append(
        CallDeadline(due_at=None, recurring_month_day="12-15", timezone="Europe/Berlin")
    )
    review(session, profile, call, "shortlisted")
    session.flush()
    (this_year,) = pursued_deadlines(session, [profile], DEC, JAN)
    assert this_year.yearly
    assert this_year.due_at == datetime(2026, 12, 15, 22, 59, 59, tzinfo=UTC)
    two_years = pursued_deadlines(session, [profile], DEC, datetime(2028, 1, 1, tzinfo=UTC))
    assert [d.due_at.year for d in two_years] == [2026, 2027]
    assert two_years[0].key != two_years[1].key


def test_staff_see_their_departments_profiles_and_the_desk_all(session: Session) -> None:
    umwelt = make_profile(session, "umwelt", department="Umwelt")
    jugend = make_profile(session, "jugend", department="Jugend")
    archived = make_profile(session, "alt", department="Umwelt", active=False)
    for profile in (umwelt, jugend, archived):
        call = make_call(session, title=profile.slug, deadlines=[DEC + timedelta(days=5)])
        review(session, profile, call, "shortlisted")

    def titles(who) -> list[str]:
        return sorted(d.call.title for d in pursued_deadlines(session, who, DEC, JAN))

    assert titles(user(session, "staff", "Umwelt")) == ["umwelt"]
    assert titles(user(session, "staff", "")) == []
    assert titles(user(session, "desk")) == ["jugend", "umwelt"]


def test_a_feed_token_is_stored_hashed_replaced_and_revoked(session: Session) -> None:
    person = user(session)
    first = create_calendar_token(session, person)
    assert person.calendar_token_hash == hashlib.sha256(first.encode()).hexdigest()
    assert first not in person.calendar_token_hash
    assert user_for_calendar_token(session, first) is person
    second = create_calendar_token(session, person)
    assert second != first
    assert user_for_calendar_token(session, first) is None
    assert user_for_calendar_token(session, second) is person
    person.active = False
    assert user_for_calendar_token(session, second) is None
    person.active = True
    assert revoke_calendar_token(session, person)
    assert not revoke_calendar_token(session, person)
    assert user_for_calendar_token(session, second) is None
    assert user_for_calendar_token(session, "") is None
