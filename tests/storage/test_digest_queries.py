"""Who is due for mail, which calls are new to them, what changed and which deadlines are near."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.digest_queries import (
    changes_since_last_alert,
    digest_period,
    due_reminders,
    due_subscriptions,
    new_profile_matches,
    profile_candidates,
    record_sent,
    seen_call_ids,
)
from storage.models import (
    CallChange,
    FundingCall,
    Match,
    MatchRun,
    Notification,
    Profile,
    Review,
    Subscription,
    SubscriptionCall,
)
from storage.outbox import enqueue, suppress
from tests.storage.factories import make_call, make_profile

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)  # a Thursday, 10:00 in Hannover
TZ = "Europe/Berlin"


def _subscription(
    session: Session, email: str = "anna@example.org", **values: object
) -> Subscription:
    values.setdefault("kind", "search")
    values.setdefault("frequency", "daily")
    values.setdefault("confirmed_at", NOW - timedelta(days=10))
    subscription = Subscription(email=email, **values)
    session.add(subscription)
    session.flush()
    return subscription


def _match(session: Session, profile: Profile, call: FundingCall, rank: int) -> Match:
    run = session.scalar(select(MatchRun)) or MatchRun(trigger="test", outcome="succeeded")
    session.add(run)
    session.flush()
    match = Match(
        match_run_id=run.id, profile_id=profile.id, call_id=call.id, score=1 / rank, rank=rank
    )
    session.add(match)
    session.flush()
    return match


def test_a_digest_period_is_the_local_hour_day_or_iso_week() -> None:
    late = datetime(2026, 12, 2, 23, 30, tzinfo=UTC)  # already 3 December in Hannover
    assert digest_period("immediate", late, TZ) == "2026-12-03T00"
    assert digest_period("daily", late, TZ) == "2026-12-03"
    assert digest_period("weekly", late, TZ) == "2026-W49"
    assert digest_period("weekly", datetime(2027, 1, 1, 12, tzinfo=UTC), TZ) == "2026-W53"


def test_only_confirmed_subscriptions_not_unsubscribed_nor_suppressed_are_due(
    session: Session,
) -> None:
    active = _subscription(session)
    _subscription(session, "new@example.org", confirmed_at=None)
    _subscription(session, "gone@example.org", unsubscribed_at=NOW - timedelta(days=1))
    _subscription(session, "Bounced@Example.org")
    suppress(session, "bounced@example.org", "550 no such user")
    assert due_subscriptions(session, NOW, TZ) == [active]


def test_a_subscription_is_due_once_in_each_period_of_its_frequency(session: Session) -> None:
    this_morning = _subscription(
        session, "a@example.org", last_sent_at=datetime(2026, 12, 2, 23, 30, tzinfo=UTC)
    )
    yesterday = _subscription(
        session, "b@example.org", last_sent_at=datetime(2026, 12, 2, 22, 30, tzinfo=UTC)
    )
    this_week = _subscription(
        session,
        "c@example.org",
        frequency="weekly",
        last_sent_at=datetime(2026, 11, 30, 7, tzinfo=UTC),
    )
    last_week = _subscription(
        session,
        "d@example.org",
        frequency="weekly",
        last_sent_at=datetime(2026, 11, 29, 7, tzinfo=UTC),
    )
    this_hour = _subscription(session, "e@example.org", frequency="immediate", last_sent_at=NOW)
    never = _subscription(session, "f@example.org", frequency="immediate")
    due = due_subscriptions(session, NOW, TZ)
    assert due == [yesterday, last_week, never]
    assert this_morning not in due and this_week not in due and this_hour not in due
    assert due_subscriptions(session, NOW, TZ, kinds=["call"]) == []


def test_profile_candidates_are_best_first_without_desk_not_relevant_or_closed_calls(
    session: Session,
) -> None:
    profile = make_profile(session)
    ahead = [NOW + timedelta(days=30)]
    best, second, rejected = (make_call(session, deadlines=ahead) for _ in range(3))
    closed = make_call(session, deadlines=[NOW - timedelta(days=1)])
    for rank, call in enumerate([rejected, best, closed, second], start=1):
        _match(session, profile, call, rank)
    session.add(Review(profile_id=profile.id, call_id=rejected.id, status="not_relevant"))
    session.add(Review(profile_id=profile.id, call_id=second.id, status="reviewing"))
    session.flush()
    assert [m.call_id for m in profile_candidates(session, profile.id, NOW)] == [best.id, second.id]
    profile.active = False
    assert profile_candidates(session, profile.id, NOW) == []


def test_a_call_sent_or_dismissed_on_a_subscription_is_not_new_to_it_again(
    session: Session,
) -> None:
    profile = make_profile(session)
    calls = [make_call(session, deadlines=[NOW + timedelta(days=30)]) for _ in range(3)]
    for rank, call in enumerate(calls, start=1):
        _match(session, profile, call, rank)
    anna = _subscription(session, kind="profile", profile_id=profile.id)
    ben = _subscription(session, "ben@example.org", kind="profile", profile_id=profile.id)
    message = enqueue(session, anna, kind="digest", period="2026-12-02", subject="s", body_text="t")
    assert message is not None
    record_sent(session, anna, [calls[0].id], message, NOW)
    session.add(SubscriptionCall(subscription_id=anna.id, call_id=calls[2].id, dismissed_at=NOW))
    session.flush()
    assert [m.call_id for m in new_profile_matches(session, anna, NOW)] == [calls[1].id]
    assert [m.call_id for m in new_profile_matches(session, ben, NOW)] == [c.id for c in calls]
    assert seen_call_ids(session, [anna.id, ben.id]) == {
        anna.id: {calls[0].id, calls[2].id},
        ben.id: set(),
    }
    row = session.scalar(select(SubscriptionCall).where(SubscriptionCall.call_id == calls[0].id))
    assert row is not None and row.notification_id == message.id and row.sent_at == NOW


def test_recording_a_call_twice_on_one_subscription_is_refused(session: Session) -> None:
    anna = _subscription(session)
    call = make_call(session)
    message = enqueue(session, anna, kind="digest", period="p", subject="s", body_text="t")
    assert message is not None
    record_sent(session, anna, [call.id], message, NOW)
    with pytest.raises(IntegrityError), session.begin_nested():
        record_sent(session, anna, [call.id], message, NOW)
    assert session.scalar(select(Notification.id)) == message.id  # the savepoint kept the rest


def test_change_alerts_start_at_the_confirmation_then_at_the_last_alert(session: Session) -> None:
    call = make_call(session)
    follower = _subscription(
        session, kind="call", call_id=call.id, confirmed_at=NOW - timedelta(days=5)
    )
    for days, field in ((7, "title"), (3, "grant_max_eur"), (1, "next_deadline")):
        session.add(CallChange(call_id=call.id, field=field, changed_at=NOW - timedelta(days=days)))
    session.flush()
    assert [c.field for c in changes_since_last_alert(session, follower, NOW)] == [
        "grant_max_eur",
        "next_deadline",
    ]
    follower.last_sent_at = NOW - timedelta(days=2)
    assert [c.field for c in changes_since_last_alert(session, follower, NOW)] == ["next_deadline"]
    searcher = _subscription(session, "ben@example.org")
    assert changes_since_last_alert(session, searcher, NOW) == []


def test_reminders_come_14_and_3_days_before_each_stage_of_followed_and_pursued_calls(
    session: Session,
) -> None:
    two_stage = make_call(
        session,
        deadline_model="two_stage",
        deadlines=[NOW + timedelta(days=10), NOW + timedelta(days=40)],
    )
    soon = make_call(session, deadlines=[NOW + timedelta(days=2, hours=3)])
    reviewing = make_call(session, deadlines=[NOW + timedelta(days=5)])
    dismissed = make_call(session, deadlines=[NOW + timedelta(days=5)])
    withdrawn = make_call(session, deadlines=[NOW + timedelta(days=5)], withdrawn_at=NOW)
    profile = make_profile(session)
    for call, status in (
        (soon, "shortlisted"),
        (reviewing, "reviewing"),
        (dismissed, "applying"),
        (withdrawn, "forwarded"),
    ):
        session.add(Review(profile_id=profile.id, call_id=call.id, status=status))
    _subscription(session, kind="call", call_id=two_stage.id)
    desk = _subscription(session, "desk@example.org", kind="profile", profile_id=profile.id)
    _subscription(session, "late@example.org", kind="call", call_id=soon.id, confirmed_at=None)
    session.add(SubscriptionCall(subscription_id=desk.id, call_id=dismissed.id, dismissed_at=NOW))
    session.flush()

    found = {
        (r.subscription.email, r.call.id, r.days, r.period) for r in due_reminders(session, NOW)
    }
    stage_one = two_stage.deadlines[0].id
    assert found == {
        ("anna@example.org", two_stage.id, 14, f"deadline {stage_one} d14"),
        ("desk@example.org", soon.id, 3, f"deadline {soon.deadlines[0].id} d3"),
    }
    assert due_reminders(session, NOW + timedelta(days=8)) and {
        r.days for r in due_reminders(session, NOW + timedelta(days=8))
    } == {3}
