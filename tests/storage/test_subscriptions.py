"""Subscriptions: validated once, never duplicated, confirmed and unsubscribed idempotently,
erased completely, and a dismissal that moves a profile's ranking only when the desk made it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.call_filters import CallFilter
from storage.models import (
    Notification,
    Review,
    Subscription,
    SubscriptionCall,
    User,
    WorkItem,
)
from storage.outbox import enqueue
from storage.subscriptions import (
    SubscriptionError,
    confirm,
    delete_everything_of,
    dismiss_call,
    manage_anchor,
    subscribe,
    subscription_targets,
    subscriptions_of,
    unsubscribe,
)
from tests.storage.factories import make_call, make_profile

START = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def _user(session: Session, email: str, role: str, department: str = "") -> User:
    user = User(email=email, role=role, department=department, password_hash="x")
    session.add(user)
    session.flush()
    return user


def _search(session: Session, email: str = "anna@example.org", **kwargs: object) -> Subscription:
    values: dict[str, object] = {"frequency": "weekly", "language": "de"}
    values.update(kwargs)
    query = values.pop("query", CallFilter(text="Jugend"))
    return subscribe(session, email=email, kind="search", query=query, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"email": "anna@localhost"}, "email"),
        ({"email": "an na@example.org"}, "email"),
        ({"email": "a" * 320 + "@example.org"}, "email"),
        ({"frequency": "hourly"}, "frequency"),
        ({"language": "fr"}, "language"),
        ({"kind": "newsletter"}, "kind"),
        ({"kind": "profile"}, "profile"),
        ({"kind": "call"}, "call"),
        ({"kind": "call", "call_id": 999_999}, "call"),
        ({"profile_id": 1}, "query"),
    ],
)
def test_subscribe_refuses_what_it_cannot_send_and_names_the_field(
    session: Session, changes: dict[str, object], field: str
) -> None:
    values: dict[str, object] = {
        "email": "anna@example.org",
        "kind": "search",
        "frequency": "weekly",
        "language": "de",
    }
    values.update(changes)
    with pytest.raises(SubscriptionError) as caught:
        subscribe(session, **values)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert session.scalar(select(func.count(Subscription.id))) == 0


def test_subscribe_stores_a_saved_search_as_the_filters_dict(session: Session) -> None:
    flt = CallFilter(text="Jugendaustausch", applicant_type="ngo", funder_type="eu")
    sub = subscribe(
        session,
        email="  Anna@Example.ORG ",
        kind="search",
        query=flt,
        frequency="daily",
        language="en",
    )
    assert sub.email == "anna@example.org"
    assert sub.query == flt.to_dict()
    assert sub.confirmed_at is None and sub.unsubscribed_at is None
    assert (sub.kind, sub.frequency, sub.language) == ("search", "daily", "en")


def test_the_same_target_again_returns_the_active_subscription(session: Session) -> None:
    first = _search(session, query=CallFilter(text="Jugend", applicant_type="ngo"))
    # The same search as a dict and with another spelling of the address: the same one.
    again = _search(
        session,
        email="ANNA@example.org",
        query={"text": "Jugend", "applicant_type": "ngo"},
        frequency="daily",
    )
    assert again.id == first.id
    assert again.frequency == "weekly", "a repeated request changes nothing"
    other = _search(session, query=CallFilter(text="Jugend"))
    assert other.id != first.id
    unsubscribe(session, first.id)
    after = _search(session, query=CallFilter(text="Jugend", applicant_type="ngo"))
    assert after.id not in (first.id, other.id), "unsubscribed: a new subscription"
    assert session.scalar(select(func.count(Subscription.id))) == 3


def test_plain_words_are_a_search_for_those_words(session: Session) -> None:
    sub = _search(session, query="Klimaanpassung")
    assert sub.query == {"text": "Klimaanpassung"}
    assert _search(session, query=CallFilter(text="Klimaanpassung")).id == sub.id


def test_confirmed_skips_the_opt_in_and_confirms_a_waiting_one(session: Session) -> None:
    waiting = _search(session)
    assert waiting.confirmed_at is None
    imported = _search(session, confirmed=True)
    assert imported.id == waiting.id and imported.confirmed_at is not None
    direct = _search(session, email="ben@example.org", confirmed=True)
    assert direct.confirmed_at is not None


def test_an_unconfirmed_subscription_whose_link_expired_is_replaced(session: Session) -> None:
    with time_machine.travel(START, tick=False):
        old = _search(session)
        enqueue(
            session, old, kind="confirm", period=f"confirm {old.id}", subject="s", body_text="t"
        )
        old_id = old.id
    with time_machine.travel(START + timedelta(days=8), tick=False):
        new = _search(session)
    # SQLite may give the new row the old id; what counts is that the old one is gone.
    assert session.scalars(select(Subscription.id)).all() == [new.id]
    assert new.created_at == START + timedelta(days=8)
    assert session.scalar(select(func.count(Notification.id))) == 0
    assert old_id


def test_confirm_is_idempotent_and_cannot_undo_an_unsubscribe(session: Session) -> None:
    sub = _search(session)
    with time_machine.travel(START, tick=False):
        confirm(session, sub.id)
    with time_machine.travel(START + timedelta(days=1), tick=False):
        assert confirm(session, sub.id).confirmed_at == START
    later = _search(session, email="ben@example.org")
    unsubscribe(session, later.id)
    assert confirm(session, later.id).confirmed_at is None
    with pytest.raises(SubscriptionError):
        confirm(session, 999_999)


def test_unsubscribe_is_idempotent(session: Session) -> None:
    sub = _search(session)
    with time_machine.travel(START, tick=False):
        unsubscribe(session, sub.id)
    with time_machine.travel(START + timedelta(hours=1), tick=False):
        assert unsubscribe(session, sub.id).unsubscribed_at == START  # type: ignore[union-attr]
    assert unsubscribe(session, 999_999) is None


def test_two_subscribers_each_see_their_own(session: Session) -> None:
    call = make_call(session, title="Erasmus+ Jugend")
    anna_search = _search(session)
    anna_call = subscribe(
        session,
        email="anna@example.org",
        kind="call",
        call_id=call.id,
        frequency="immediate",
        language="de",
    )
    ben = _search(session, email="ben@example.org")
    assert [s.id for s in subscriptions_of(session, "ANNA@example.org")] == [
        anna_search.id,
        anna_call.id,
    ]
    assert [s.id for s in subscriptions_of(session, "ben@example.org")] == [ben.id]
    assert subscriptions_of(session, "nobody@example.org") == []
    assert subscriptions_of(session, "not an address") == []
    assert subscription_targets(session, [anna_search, anna_call]) == {anna_call.id: call}


def test_manage_mail_is_filed_under_the_oldest_active_subscription(session: Session) -> None:
    first, second = _search(session), _search(session, query="Kultur")
    assert manage_anchor(session, "anna@example.org") is first
    unsubscribe(session, first.id)
    assert manage_anchor(session, "anna@example.org") is second
    unsubscribe(session, second.id)
    assert manage_anchor(session, "anna@example.org") is first
    assert manage_anchor(session, "nobody@example.org") is None


def test_delete_everything_erases_one_address_only(session: Session) -> None:
    call = make_call(session)
    anna = [_search(session), _search(session, query="Kultur")]
    ben = _search(session, email="ben@example.org")
    for sub in [*anna, ben]:
        enqueue(
            session, sub, kind="confirm", period=f"confirm {sub.id}", subject="s", body_text="t"
        )
        session.add(SubscriptionCall(subscription_id=sub.id, call_id=call.id, sent_at=START))
    session.commit()

    assert delete_everything_of(session, "Anna@example.org") == 2
    session.commit()
    assert subscriptions_of(session, "anna@example.org") == []
    assert session.scalars(select(Notification.recipient)).all() == ["ben@example.org"]
    assert session.scalars(select(SubscriptionCall.subscription_id)).all() == [ben.id]
    assert delete_everything_of(session, "anna@example.org") == 0


def test_dismissing_a_call_is_recorded_once_and_marks_a_sent_one(session: Session) -> None:
    sent, fresh = make_call(session), make_call(session)
    sub = _search(session, confirmed=True)
    session.add(SubscriptionCall(subscription_id=sub.id, call_id=sent.id, sent_at=START))
    session.flush()
    with time_machine.travel(START + timedelta(days=1), tick=False):
        result = dismiss_call(session, sub.id, sent.id)
        dismiss_call(session, sub.id, fresh.id)
    with time_machine.travel(START + timedelta(days=2), tick=False):
        dismiss_call(session, sub.id, fresh.id)
    rows = {r.call_id: r for r in session.scalars(select(SubscriptionCall))}
    assert set(rows) == {sent.id, fresh.id}
    assert rows[sent.id].sent_at == START
    assert rows[sent.id].dismissed_at == START + timedelta(days=1)
    assert rows[fresh.id].dismissed_at == START + timedelta(days=1), "the first click counts"
    assert not result.reviewed
    with pytest.raises(SubscriptionError):
        dismiss_call(session, sub.id, 999_999)
    with pytest.raises(SubscriptionError):
        dismiss_call(session, 999_999, sent.id)


def test_a_desk_dismissal_on_a_profile_subscription_moves_the_ranking(session: Session) -> None:
    profile = make_profile(session, "jugendzentrum", department="Jugend")
    call = make_call(session)
    desk = _user(session, "desk@example.org", "desk")
    sub = subscribe(
        session,
        email=desk.email,
        kind="profile",
        profile_id=profile.id,
        frequency="weekly",
        language="de",
        user_id=desk.id,
        confirmed=True,
    )
    result = dismiss_call(session, sub.id, call.id, user=desk)
    assert result.reviewed
    review = session.scalar(select(Review))
    assert review is not None and (review.call_id, review.status) == (call.id, "not_relevant")
    assert session.scalar(select(func.count(WorkItem.id)).where(WorkItem.kind == "rematch")) == 1


def test_a_staff_or_anonymous_dismissal_is_theirs_alone(session: Session) -> None:
    profile = make_profile(session, "jugendzentrum", department="Jugend")
    call = make_call(session)
    staff = _user(session, "staff@example.org", "staff", department="Jugend")
    sub = subscribe(
        session,
        email=staff.email,
        kind="profile",
        profile_id=profile.id,
        frequency="weekly",
        language="de",
        user_id=staff.id,
    )
    assert not dismiss_call(session, sub.id, call.id, user=staff).reviewed
    assert not dismiss_call(session, sub.id, call.id).reviewed
    assert session.scalar(select(func.count(Review.id))) == 0
    assert session.scalar(select(SubscriptionCall.dismissed_at)) is not None


def test_staff_subscribe_only_to_profiles_they_may_read(session: Session) -> None:
    own = make_profile(session, "jugendzentrum", department="Jugend")
    other = make_profile(session, "klaerwerk", department="Stadtentwässerung")
    staff = _user(session, "staff@example.org", "staff", department="Jugend")
    values = {"email": staff.email, "kind": "profile", "frequency": "weekly", "language": "de"}
    assert subscribe(session, profile_id=own.id, user_id=staff.id, **values).profile_id == own.id  # type: ignore[arg-type]
    with pytest.raises(SubscriptionError) as caught:
        subscribe(session, profile_id=other.id, user_id=staff.id, **values)  # type: ignore[arg-type]
    assert caught.value.field == "profile"
