"""The review pipeline: history kept, who may do what, assignees, verdicts that re-rank."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Profile, ReviewNote, User, WorkItem
from storage.reviews import (
    Assignee,
    ReviewError,
    assignee_label,
    get_review,
    may_comment,
    may_edit,
    may_read,
    readable_profiles,
    resolve_assignee,
    reviews_for,
    timeline,
    update_review,
    update_reviews,
)
from tests.storage.factories import make_call, make_profile
from tests.storage.match_factories import make_match


def _user(session: Session, email: str, role: str = "desk", department: str = "",
          name: str = "") -> User:  # fmt: skip
    user = User(email=email, name=name, role=role, department=department, password_hash="x")
    session.add(user)
    session.flush()
    return user


@pytest.fixture
def project(session: Session) -> Profile:
    return make_profile(session, "klima", department="FB Umwelt")


def _queued(session: Session) -> int:
    waiting = select(func.count(WorkItem.id)).where(
        WorkItem.kind == "rematch", WorkItem.state == "queued"
    )
    return session.scalar(waiting) or 0


def test_every_change_is_one_new_entry_oldest_first(session: Session, project: Profile) -> None:
    dana = _user(session, "dana@example.org", name="Dana")
    uwe = _user(session, "uwe@example.org", "staff", "FB Umwelt", name="Uwe")
    call = make_call(session)
    first = update_review(session, dana, project, call.id, status="reviewing", note="Lese ich")
    second = update_review(session, uwe, project, call.id, note="Klingt gut")
    third = update_review(session, dana, project, call.id, status="shortlisted",
                          assignee="uwe@example.org")  # fmt: skip
    review = get_review(session, project.id, call.id)
    entries = timeline(session, review)
    assert [e.id for e in entries] == [first.id, second.id, third.id]  # type: ignore[union-attr]
    assert [(e.author.name, e.old_status, e.new_status, e.body) for e in entries] == [
        ("Dana", "new", "reviewing", "Lese ich"),
        ("Uwe", None, None, "Klingt gut"),
        ("Dana", "reviewing", "shortlisted", ""),
    ]  # type: ignore[union-attr]
    assert (entries[2].old_assignee, entries[2].new_assignee) == (None, "Uwe")
    assert review is not None and review.status == "shortlisted"
    assert timeline(session, None) == []


def test_an_empty_change_records_nothing(session: Session, project: Profile) -> None:
    dana = _user(session, "dana@example.org")
    call = make_call(session)
    update_review(session, dana, project, call.id, status="reviewing", assignee="FB Umwelt")
    assert update_review(session, dana, project, call.id, status="reviewing") is None
    assert update_review(session, dana, project, call.id, assignee="FB Umwelt") is None
    assert update_review(session, dana, project, call.id, note="   ") is None
    assert session.scalar(select(func.count(ReviewNote.id))) == 1


def test_a_bad_status_or_an_over_long_note_is_refused(session: Session, project: Profile) -> None:
    dana = _user(session, "dana@example.org")
    call = make_call(session)
    with pytest.raises(ReviewError, match="unknown status 'maybe'"):
        update_review(session, dana, project, call.id, status="maybe")
    with pytest.raises(ReviewError, match="at most"):
        update_review(session, dana, project, call.id, note="x" * 5001)
    assert get_review(session, project.id, call.id) is None


def test_roles_decide_who_reads_edits_and_comments(session: Session, project: Profile) -> None:
    admin = _user(session, "admin@example.org", "admin")
    dana = _user(session, "dana@example.org", "desk")
    ours = _user(session, "uwe@example.org", "staff", "FB Umwelt")
    theirs = _user(session, "kai@example.org", "staff", "FB Kultur")
    nobody = _user(session, "new@example.org", "staff")
    gone = _user(session, "gone@example.org", "desk")
    gone.active = False
    partner = make_profile(session, "verein", kind="partner", applicant_type="ngo")
    table = {u.email: (may_read(u, project), may_edit(u, project), may_comment(u, project))
             for u in (admin, dana, ours, theirs, nobody, gone)}  # fmt: skip
    assert table == {
        "admin@example.org": (True, True, True),
        "dana@example.org": (True, True, True),
        "uwe@example.org": (True, False, True),
        "kai@example.org": (False, False, False),
        "new@example.org": (False, False, False),
        "gone@example.org": (False, False, False),
    }
    assert [p.slug for p in readable_profiles(session, dana)] == ["klima", "verein"]
    assert [p.slug for p in readable_profiles(session, ours)] == ["klima"]
    assert readable_profiles(session, nobody) == []
    assert not may_read(ours, partner)


def test_staff_comment_but_never_change_status_or_assignee(
    session: Session, project: Profile
) -> None:
    uwe = _user(session, "uwe@example.org", "staff", "FB Umwelt")
    kai = _user(session, "kai@example.org", "staff", "FB Kultur")
    call = make_call(session)
    with pytest.raises(PermissionError):
        update_review(session, uwe, project, call.id, status="shortlisted")
    with pytest.raises(PermissionError):
        update_review(session, uwe, project, call.id, assignee="FB Umwelt")
    with pytest.raises(PermissionError):
        update_review(session, kai, project, call.id, note="Von nebenan")
    assert get_review(session, project.id, call.id) is None
    assert update_review(session, uwe, project, call.id, note="Passt") is not None


def test_assignee_is_an_active_users_email_else_a_department(session: Session) -> None:
    dana = _user(session, "dana@example.org", name="Dana")
    gone = _user(session, "gone@example.org")
    gone.active = False
    assert resolve_assignee(session, "  DANA@Example.org ") == Assignee(user_id=dana.id)
    assert resolve_assignee(session, "gone@example.org") == Assignee(department="gone@example.org")
    assert resolve_assignee(session, " FB   Umwelt ") == Assignee(department="FB Umwelt")
    assert resolve_assignee(session, "") == Assignee()


def test_assignee_label_shows_a_name_an_email_or_a_department(
    session: Session, project: Profile
) -> None:
    dana = _user(session, "dana@example.org", name="Dana")
    _user(session, "anon@example.org")
    calls = [make_call(session) for _ in range(3)]
    update_review(session, dana, project, calls[0].id, assignee="dana@example.org")
    update_review(session, dana, project, calls[1].id, assignee="anon@example.org")
    update_review(session, dana, project, calls[2].id, assignee="Kämmerei")
    reviews = reviews_for(session, [(project.id, c.id) for c in calls])
    labels = [assignee_label(reviews[(project.id, c.id)]) for c in calls]
    assert labels == ["Dana", "anon@example.org", "Kämmerei"]
    assert assignee_label(None) == ""
    entry = update_review(session, dana, project, calls[2].id, assignee="")
    assert entry is not None and (entry.old_assignee, entry.new_assignee) == ("Kämmerei", None)


def test_only_a_changed_verdict_queues_one_re_rank(session: Session, project: Profile) -> None:
    dana = _user(session, "dana@example.org")
    calls = [make_call(session) for _ in range(3)]
    update_review(session, dana, project, calls[0].id, status="reviewing")  # no verdict yet
    update_review(session, dana, project, calls[0].id, note="Notiz")
    assert _queued(session) == 0
    update_review(session, dana, project, calls[0].id, status="shortlisted")  # relevant
    update_review(session, dana, project, calls[1].id, status="not_relevant")
    assert _queued(session) == 1  # one waiting re-rank covers both
    item = session.scalar(select(WorkItem))
    assert item is not None and item.profile_id == project.id and item.requested_by_id == dana.id
    item.state = "done"
    update_review(session, dana, project, calls[0].id, status="applying")  # still relevant
    assert _queued(session) == 0
    update_review(session, dana, project, calls[2].id, status="awarded")
    assert _queued(session) == 1


def test_bulk_update_is_all_or_nothing(session: Session, project: Profile) -> None:
    dana = _user(session, "dana@example.org")
    uwe = _user(session, "uwe@example.org", "staff", "FB Umwelt")
    matches = [make_match(session, project, make_call(session), rank=n) for n in (1, 2)]
    with pytest.raises(PermissionError):
        update_reviews(session, uwe, matches, status="shortlisted")
    assert get_review(session, project.id, matches[0].call_id) is None
    assert update_reviews(session, dana, matches, status="reviewing") == 2
    assert update_reviews(session, dana, matches, status="reviewing") == 0
