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


# --- the admin page: suppressed addresses, failed messages, lifting a suppression ----------
def _failed(session: Session, email: str, error: str, period: str = "2026-W49"):  # type: ignore[no-untyped-def]
    from storage.outbox import mark_failed

    message = enqueue(session, _subscription(session, email), kind="digest", period=period,
                      subject="Neue Förderaufrufe", body_text="t")  # fmt: skip
    assert message is not None
    mark_failed(session, message, error)
    return message


def test_the_overview_shows_each_suppression_with_its_reason_and_what_it_held_back(
    session: Session,
) -> None:
    from datetime import timedelta

    from storage.models import SuppressedAddress, utcnow
    from storage.outbox import hold_back, mail_overview

    # Held back for another reason (not confirmed) before the address was refused: not the
    # suppression's doing, so not counted for it.
    unconfirmed = _subscription(session, "gone@example.org")
    other = enqueue(session, unconfirmed, kind="digest", period="2026-W48", subject="s",
                    body_text="t")  # fmt: skip
    assert other is not None and hold_back(session, [other]) == [other]
    failed = _failed(session, "Gone@Example.org", "550 5.1.1 <gone@example.org>: no such user")
    for period in ("2026-W50", "2026-W51"):  # stored after the suppression: held back
        enqueue(session, failed.subscription, kind="digest", period=period, subject="s",
                body_text="t")  # fmt: skip
    suppress(session, "full@example.org", "552 mailbox full")
    older = session.query(SuppressedAddress).filter_by(email="full@example.org").one()
    older.created_at = utcnow() - timedelta(days=3)
    session.flush()

    overview = mail_overview(session)
    assert [(r.address.email, r.address.reason, r.held_back) for r in overview.suppressed] == [
        ("gone@example.org", "550 5.1.1 <gone@example.org>: no such user", 2),
        ("full@example.org", "552 mailbox full", 0),
    ]
    assert [(m.recipient, m.last_error) for m in overview.failed] == [
        ("Gone@Example.org", "550 5.1.1 <gone@example.org>: no such user")
    ]
    assert (overview.suppressed_total, overview.failed_total) == (2, 1)
    assert overview.counts["failed"] == 1 and overview.counts["suppressed"] == 3


def test_the_search_ignores_case_takes_wildcards_literally_and_counts_beyond_the_cap(
    session: Session,
) -> None:
    from storage.outbox import mail_overview

    for email in ("anna@verein.example", "ANNABELLE@verein.example", "a_b@other.example"):
        _failed(session, email, "550 no such user")
    session.flush()

    found = mail_overview(session, search="  AnNa ", limit=1)
    assert found.search == "AnNa"
    assert len(found.suppressed) == len(found.failed) == 1
    assert (found.suppressed_total, found.failed_total) == (2, 2)
    assert [r.address.email for r in mail_overview(session, search="a_b").suppressed] == [
        "a_b@other.example"
    ]
    nothing = mail_overview(session, search="%")
    assert (nothing.suppressed, nothing.failed, nothing.suppressed_total) == ([], [], 0)
    assert mail_overview(session).suppressed_total == 3


def test_lifting_a_suppression_lets_new_mail_out_and_resends_nothing_old(session: Session) -> None:
    from storage.models import SuppressedAddress
    from storage.outbox import lift_suppression

    failed = _failed(session, "Gone@Example.org", "550 no such user")
    held = enqueue(session, failed.subscription, kind="digest", period="2026-W50", subject="s",
                   body_text="t")  # fmt: skip
    assert held is not None and held.state == "suppressed"
    address = session.query(SuppressedAddress).one()

    assert lift_suppression(session, address.id) == "gone@example.org"
    assert not is_suppressed(session, "gone@example.org")
    session.expire_all()
    assert (failed.state, held.state) == ("failed", "suppressed")
    new = enqueue(session, failed.subscription, kind="digest", period="2026-W51", subject="s",
                  body_text="t")  # fmt: skip
    assert new is not None and new.state == "pending"
    assert lift_suppression(session, address.id) is None  # lifted already
    assert lift_suppression(session, 99999) is None
