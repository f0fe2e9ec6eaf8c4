"""The outbox: every message is a ``Notification`` row before anything is sent.

A message is unique per (subscription, kind, period), so composing the same digest twice,
or in two processes at once, stores it once; the sender marks it sent, defers it after a
temporary failure, or fails it for good. Suppressed addresses (refused mail permanently)
get nothing more.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import Notification, Subscription, SuppressedAddress


def is_suppressed(session: Session, email: str) -> bool:
    """Whether ``email`` refused mail for good."""
    return (
        session.scalar(
            select(func.count(SuppressedAddress.id)).where(
                SuppressedAddress.email == email.strip().lower()
            )
        )
        or 0
    ) > 0


def suppress(session: Session, email: str, reason: str) -> None:
    """Send nothing more to ``email`` (after permanent failures); idempotent."""
    address = email.strip().lower()
    if not is_suppressed(session, address):
        session.add(SuppressedAddress(email=address, reason=reason[:2000]))
        session.flush()


def enqueue(
    session: Session,
    subscription: Subscription,
    *,
    kind: str,
    period: str,
    subject: str,
    body_text: str,
    body_html: str = "",
    unsubscribe_url: str = "",
) -> Notification | None:
    """Store one message for ``subscription``; None if this (kind, period) exists already.

    The insert runs in a savepoint: a message another process stored a moment earlier
    makes the unique constraint fail here, which means "already there", not an error.
    """
    if session.scalar(
        select(Notification.id).where(
            Notification.subscription_id == subscription.id,
            Notification.kind == kind,
            Notification.period == period,
        )
    ):
        return None
    message = Notification(
        subscription_id=subscription.id,
        kind=kind,
        period=period[:64],
        recipient=subscription.email,
        subject=subject[:500],
        body_text=body_text,
        body_html=body_html,
        unsubscribe_url=unsubscribe_url[:2000],
        state="suppressed" if is_suppressed(session, subscription.email) else "pending",
    )
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:
        return None
    return message
