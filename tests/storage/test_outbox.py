"""The outbox stores each message once, and nothing for a suppressed address."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Notification, Subscription
from storage.outbox import enqueue, is_suppressed, suppress


def _subscription(session: Session, email: str = "anna@example.org") -> Subscription:
    subscription = Subscription(email=email, kind="search", query={"q": "Jugend"})
    session.add(subscription)
    session.flush()
    return subscription


def test_a_message_is_stored_once_per_subscription_kind_and_period(session: Session) -> None:
    anna, ben = _subscription(session), _subscription(session, "ben@example.org")
    first = enqueue(session, anna, kind="digest", period="2026-W49", subject="s", body_text="t")
    assert first is not None and first.state == "pending"
    assert (
        enqueue(session, anna, kind="digest", period="2026-W49", subject="s", body_text="t") is None
    )
    assert enqueue(session, anna, kind="digest", period="2026-W50", subject="s", body_text="t")
    assert enqueue(session, ben, kind="digest", period="2026-W49", subject="s", body_text="t")
    assert session.scalar(select(func.count(Notification.id))) == 3


def test_a_suppressed_address_gets_its_message_recorded_but_not_sent(session: Session) -> None:
    anna = _subscription(session, "Anna@Example.org")
    suppress(session, "anna@example.org ", "550 mailbox unavailable")
    suppress(session, "ANNA@example.org", "again")  # idempotent
    assert is_suppressed(session, "anna@EXAMPLE.org")
    message = enqueue(session, anna, kind="digest", period="2026-12-03", subject="s", body_text="t")
    assert message is not None and message.state == "suppressed"


def test_only_the_asked_for_manage_link_reaches_an_unsubscribed_address(session: Session) -> None:
    from storage.models import utcnow
    from storage.outbox import hold_back

    gone = _subscription(session)
    gone.confirmed_at = gone.unsubscribed_at = utcnow()
    manage = enqueue(session, gone, kind="manage", period="manage 2026-12-03", subject="s",
                     body_text="t")  # fmt: skip
    digest = enqueue(session, gone, kind="digest", period="2026-W49", subject="s", body_text="t")
    assert manage is not None and digest is not None
    assert hold_back(session, [manage, digest]) == [digest]
    assert (manage.state, digest.state) == ("pending", "suppressed")
