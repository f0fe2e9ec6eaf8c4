"""What the desk's pages read: visits, new matches, deadlines, a profile's and a call's rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.desk import (
    assigned_to,
    assignee_suggestions,
    assignee_value,
    call_view,
    deadlines_near,
    new_matches,
    profile_row,
    profile_summaries,
    profile_view,
    record_visit,
    restore_status,
    update_calls,
)
from storage.models import Match, Review, User
from storage.reviews import ReviewError, get_review, update_review
from storage.work_queue import waiting_rematches
from tests.storage.factories import make_call, make_profile
from tests.storage.match_factories import make_match

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def _user(session: Session, email: str = "dana@example.org", role: str = "desk",
          department: str = "") -> User:  # fmt: skip
    user = User(email=email, name=email.split("@")[0].title(), role=role,
                department=department, password_hash="x")  # fmt: skip
    session.add(user)
    session.flush()
    return user


# --- visits -------------------------------------------------------------------------------
def test_first_visit_has_no_previous_visit(session: Session) -> None:
    user = _user(session)
    assert record_visit(user, NOW) is None
    assert user.last_visit_at == NOW and user.previous_visit_at is None


def test_views_within_half_an_hour_are_one_visit(session: Session) -> None:
    user = _user(session)
    user.last_visit_at = NOW - timedelta(hours=3)
    start = NOW - timedelta(minutes=50)
    assert record_visit(user, start) == NOW - timedelta(hours=3)
    # 25 minutes apart, then 25 again: still the same visit, although 50 minutes passed.
    assert record_visit(user, start + timedelta(minutes=25)) == NOW - timedelta(hours=3)
    assert record_visit(user, NOW) == NOW - timedelta(hours=3)
    assert user.last_visit_at == NOW


def test_a_view_more_than_half_an_hour_later_starts_a_new_visit(session: Session) -> None:
    user = _user(session)
    user.last_visit_at = NOW - timedelta(minutes=31)
    user.previous_visit_at = NOW - timedelta(days=2)
    assert record_visit(user, NOW) == NOW - timedelta(minutes=31)
    assert user.previous_visit_at == NOW - timedelta(minutes=31)
    assert user.last_visit_at == NOW


# --- the dashboard ------------------------------------------------------------------------
def test_new_matches_are_unreviewed_matches_made_since_best_first(session: Session) -> None:
    profile = make_profile(session, "klima")
    other = make_profile(session, "andere")
    since = NOW - timedelta(days=1)
    calls = [make_call(session) for _ in range(5)]
    make_match(session, profile, calls[0], score=0.2, first_matched_at=NOW)
    make_match(session, profile, calls[1], score=0.8, first_matched_at=NOW)
    make_match(session, profile, calls[2], score=0.9, first_matched_at=since)  # not after
    make_match(session, profile, calls[3], score=0.5, first_matched_at=NOW)
    make_match(session, other, calls[4], score=0.99, first_matched_at=NOW)  # not asked for
    session.add(Review(profile_id=profile.id, call_id=calls[3].id, status="shortlisted"))
    session.add(Review(profile_id=profile.id, call_id=calls[0].id, status="new"))
    session.flush()
    rows, total = new_matches(session, [profile.id], since)
    assert [r.call.id for r in rows] == [calls[1].id, calls[0].id]
    assert total == 2
    rows, total = new_matches(session, [profile.id], since, limit=1)
    assert [r.call.id for r in rows] == [calls[1].id] and total == 2
    _, total = new_matches(session, [profile.id], None)  # a first visit: all unreviewed
    assert total == 3
    assert new_matches(session, [], None) == ([], 0)


def test_deadlines_near_lists_pursued_calls_due_within_the_window(session: Session) -> None:
    profile = make_profile(session, "klima")
    due = {days: make_call(session, deadlines=[NOW + timedelta(days=days)])
           for days in (2, 20, 45)}  # fmt: skip
    past = make_call(session, deadlines=[NOW - timedelta(days=1)])
    for call, status in ((due[20], "applying"), (due[2], "shortlisted"), (due[45], "forwarded"),
                         (past, "submitted")):  # fmt: skip
        session.add(Review(profile_id=profile.id, call_id=call.id, status=status))
    reading = make_call(session, deadlines=[NOW + timedelta(days=1)])
    session.add(Review(profile_id=profile.id, call_id=reading.id, status="reviewing"))
    make_match(session, profile, due[2])
    session.flush()
    rows = deadlines_near(session, [profile.id], NOW)
    assert [r.call.id for r in rows] == [due[2].id, due[20].id]
    assert rows[0].due == NOW + timedelta(days=2)
    assert rows[0].match is not None and rows[1].match is None  # dropped by a re-rank


def test_assigned_to_lists_my_unfinished_reviews_soonest_first(session: Session) -> None:
    me, other = _user(session), _user(session, "other@example.org")
    profile = make_profile(session, "klima")
    later = make_call(session, deadlines=[NOW + timedelta(days=50)])
    sooner = make_call(session, deadlines=[NOW + timedelta(days=5)])
    none = make_call(session)
    done = make_call(session)
    theirs = make_call(session)
    session.add_all([
        Review(profile_id=profile.id, call_id=none.id, status="reviewing", assignee_id=me.id),
        Review(profile_id=profile.id, call_id=later.id, status="new", assignee_id=me.id),
        Review(profile_id=profile.id, call_id=sooner.id, status="applying", assignee_id=me.id),
        Review(profile_id=profile.id, call_id=done.id, status="rejected", assignee_id=me.id),
        Review(profile_id=profile.id, call_id=theirs.id, status="new", assignee_id=other.id),
    ])  # fmt: skip
    session.flush()
    rows = assigned_to(session, me, [profile.id], NOW)
    assert [r.call.id for r in rows] == [sooner.id, later.id, none.id]
    assert assigned_to(session, me, [], NOW) == []


# --- profiles -----------------------------------------------------------------------------
def _ranked(session: Session) -> tuple:  # type: ignore[type-arg]
    profile = make_profile(session, "klima")
    calls = [make_call(session, title=f"Call {n}") for n in range(4)]
    for rank, call in enumerate(calls[:3], start=1):
        make_match(session, profile, call, rank=rank, score=1 - rank / 10)
    return profile, calls


def test_profile_view_hides_not_relevant_and_filters_by_stage(session: Session) -> None:
    profile, calls = _ranked(session)
    dana = _user(session)
    update_review(session, dana, profile, calls[1].id, status="reviewing")
    update_review(session, dana, profile, calls[1].id, status="not_relevant")
    update_review(session, dana, profile, calls[3].id, status="shortlisted")  # not ranked
    view = profile_view(session, profile, NOW)
    assert [r.call.id for r in view.rows] == [calls[0].id, calls[2].id]
    assert view.counts == {"new": 2, "not_relevant": 1, "shortlisted": 1}
    assert view.not_relevant == [] and view.waiting
    shortlisted = profile_view(session, profile, NOW, status="shortlisted")
    assert [(r.call.id, r.match) for r in shortlisted.rows] == [(calls[3].id, None)]
    hidden = profile_view(session, profile, NOW, hidden=True)
    assert [(r.call.id, restore) for r, restore in hidden.not_relevant] == [
        (calls[1].id, "reviewing")
    ]
    assert [r.call.id for r in hidden.rows] == [calls[0].id, calls[2].id]


def test_restore_status_is_the_stage_before_the_last_not_relevant(session: Session) -> None:
    profile, calls = _ranked(session)
    dana = _user(session)
    update_review(session, dana, profile, calls[0].id, status="not_relevant")
    review = get_review(session, profile.id, calls[0].id)
    assert review is not None and restore_status(session, review) == "new"
    update_review(session, dana, profile, calls[0].id, status="forwarded")
    update_review(session, dana, profile, calls[0].id, status="not_relevant")
    assert restore_status(session, review) == "forwarded"


def test_profile_summaries_count_what_each_reader_may_see(session: Session) -> None:
    profile, calls = _ranked(session)
    make_profile(session, "kultur", department="FB Kultur")
    profile.department = "FB Umwelt"
    dana = _user(session)
    update_review(session, dana, profile, calls[0].id, status="shortlisted")
    update_review(session, dana, profile, calls[1].id, status="not_relevant")
    summaries = {s.profile.slug: s for s in profile_summaries(session, dana)}
    assert set(summaries) == {"klima", "kultur"}
    klima = summaries["klima"]
    assert (klima.matches, klima.new, klima.pursued, klima.waiting) == (2, 1, 1, True)
    staff = _user(session, "uwe@example.org", "staff", "FB Umwelt")
    assert [s.profile.slug for s in profile_summaries(session, staff)] == ["klima"]


def test_profile_row_of_a_call_neither_ranked_nor_reviewed_is_none(session: Session) -> None:
    profile, calls = _ranked(session)
    assert profile_row(session, profile, calls[3].id, NOW) is None
    row = profile_row(session, profile, calls[0].id, NOW)
    assert row is not None and row.match is not None and row.status == "new"


def test_update_calls_changes_all_or_nothing(session: Session) -> None:
    profile, calls = _ranked(session)
    dana = _user(session)
    stranger = make_call(session)
    with pytest.raises(ReviewError, match="not listed"):
        update_calls(session, dana, profile, [calls[0].id, stranger.id], status="shortlisted")
    assert session.scalar(select(Review)) is None
    staff = _user(session, "uwe@example.org", "staff", profile.department)
    with pytest.raises(PermissionError):
        update_calls(session, staff, profile, [calls[0].id], status="shortlisted")
    changed = update_calls(session, dana, profile, [calls[0].id, calls[1].id, calls[0].id],
                           status="reviewing", assignee="FB Umwelt")  # fmt: skip
    assert changed == 2
    reviews = session.scalars(select(Review).order_by(Review.call_id)).all()
    assert [(r.status, r.department) for r in reviews] == [("reviewing", "FB Umwelt")] * 2


# --- calls and the review form ------------------------------------------------------------
def test_call_view_puts_projects_beside_partners_best_first(session: Session) -> None:
    call = make_call(session)
    dana = _user(session)
    lead = make_profile(session, "lead", name="Lead project", department="FB Umwelt")
    second = make_profile(session, "second", name="Second project")
    ngo = make_profile(session, "ngo", kind="partner", name="NGO", applicant_type="ngo")
    make_match(session, second, call, rank=1, score=0.2)
    make_match(session, lead, call, rank=2, score=0.4)
    make_match(session, ngo, call, rank=1, score=0.3)
    reviewed = make_profile(session, "reviewed", name="Reviewed only")
    session.add(Review(profile_id=reviewed.id, call_id=call.id, status="shortlisted"))
    session.flush()
    view = call_view(session, dana, call)
    assert [r.profile.slug for r in view.projects] == ["lead", "second", "reviewed"]
    assert [r.profile.slug for r in view.partners] == ["ngo"]
    assert view.projects[2].status == "shortlisted" and view.projects[2].match is None
    staff = _user(session, "uwe@example.org", "staff", "FB Umwelt")
    staff_view = call_view(session, staff, call)
    assert [r.profile.slug for r in staff_view.projects] == ["lead"]
    assert staff_view.partners == []


def test_assignee_value_and_suggestions(session: Session) -> None:
    profile, calls = _ranked(session)
    profile.department = "FB Umwelt"
    dana = _user(session)
    gone = _user(session, "gone@example.org")
    gone.active = False
    _user(session, "uwe@example.org", "staff", "fb Kultur")
    update_review(session, dana, profile, calls[0].id, assignee="DANA@example.org")
    update_review(session, dana, profile, calls[1].id, assignee="Kämmerei")
    review = get_review(session, profile.id, calls[0].id)
    assert assignee_value(review) == "dana@example.org"
    assert assignee_value(get_review(session, profile.id, calls[1].id)) == "Kämmerei"
    assert assignee_value(None) == ""
    assert assignee_suggestions(session) == [
        "dana@example.org", "uwe@example.org", "fb Kultur", "FB Umwelt", "Kämmerei",
    ]  # fmt: skip


def test_nothing_here_commits(session: Session) -> None:
    profile, calls = _ranked(session)
    update_calls(session, _user(session), profile, [calls[0].id], status="shortlisted")
    assert waiting_rematches(session, [profile.id]) == {profile.id}
    session.rollback()
    assert session.scalar(select(Match)) is None and session.scalar(select(Review)) is None
