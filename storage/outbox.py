"""The outbox: every message is a ``Notification`` row before anything is sent.

A message is unique per (subscription, kind, period), so composing the same digest twice,
or in two processes at once, stores it once; the sender marks it sent, defers it after a
temporary failure, or fails it for good. Suppressed addresses (refused mail permanently)
get nothing more, until an administrator lifts the suppression (:func:`lift_suppression`,
shown with the failed messages on the admin's mail page: :func:`mail_overview`).

Sending claims messages before it sends them (:func:`claim_due`): the claim counts an attempt
and leases the message for a while, in one UPDATE, committed before anything is sent, so two
senders at once never take the same message, and a sender that dies leaves its messages to
be taken again when the lease runs out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from storage.models import Notification, Subscription, SuppressedAddress

# A permanent refusal (5xx) fails a message for good, and suppresses its address, once it has
# been tried this often; temporary failures count as tries too.
MAX_ATTEMPTS = 3
FIRST_RETRY = timedelta(minutes=5)
LONGEST_RETRY = timedelta(hours=6)
# Why :func:`hold_back` did not send a message; the admin page counts these per address.
HELD_FOR_SUPPRESSION = "the address is suppressed"
# How many rows each list of the admin page shows at most; its search narrows them.
ADMIN_LIST_LIMIT = 100


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
    suppressed: bool | None = None,
) -> Notification | None:
    """Store one message for ``subscription``; None if this (kind, period) exists already.

    The insert runs in a savepoint, and the unique constraint decides: a message stored
    before, or by another process a moment earlier, means "already there", not an error.
    ``suppressed``: whether the address is suppressed, when the caller knows it already
    (the composer selects only addresses that are not); None looks it up.
    """
    if suppressed is None:
        suppressed = is_suppressed(session, subscription.email)
    message = Notification(
        subscription_id=subscription.id,
        kind=kind,
        period=period[:64],
        recipient=subscription.email,
        subject=subject[:500],
        body_text=body_text,
        body_html=body_html,
        unsubscribe_url=unsubscribe_url[:2000],
        state="suppressed" if suppressed else "pending",
    )
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:
        return None
    return message


# --- sending ------------------------------------------------------------------------------
def retry_delay(attempts: int) -> timedelta:
    """How long a message waits after its ``attempts``-th try failed for now: 5 minutes,
    doubling with every try, at most 6 hours."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(
        Notification.state == "pending",
        or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
    )


def claim_due(
    session: Session, now: datetime, *, limit: int, lease: timedelta
) -> list[Notification]:
    """Claim up to ``limit`` pending messages that are due, oldest first, for sending.

    One UPDATE counts an attempt on each and moves its next attempt to ``now + lease``; it
    returns the rows it changed. PostgreSQL picks them with ``FOR UPDATE SKIP LOCKED`` (rows
    another sender holds are passed over) and checks the condition again on the locked rows;
    SQLite runs the statement under its single writer lock. Either way two senders never
    claim one message. Commit before sending: the claim is what keeps the other sender off.
    """
    # A CTE, materialised: PostgreSQL evaluates it once. As a plain IN (subquery) the planner
    # may rescan it, and a rescan skips the rows this statement just locked and picks more.
    picked = (
        select(Notification.id)
        .where(_due(now))
        .order_by(Notification.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("picked")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    claimed = list(
        session.scalars(
            update(Notification)
            .where(Notification.id.in_(select(picked.c.id)), _due(now))
            .values(attempts=Notification.attempts + 1, next_attempt_at=now + lease)
            .returning(Notification.id)
            .execution_options(synchronize_session=False)
        )
    )
    if not claimed:
        return []
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.id.in_(claimed))
            .options(selectinload(Notification.subscription))
            .order_by(Notification.id)
            .execution_options(populate_existing=True)
        )
    )


def hold_back(session: Session, messages: Sequence[Notification]) -> list[Notification]:
    """Mark as suppressed, and return, the claimed messages that must not go out: to an
    address suppressed since they were stored, or of a subscription unsubscribed meanwhile
    (only its confirmation mail, and the manage link the person asked for, may go to an
    unconfirmed one; the manage link also to an unsubscribed one)."""
    addresses = {m.recipient.strip().lower() for m in messages}
    suppressed = (
        set(
            session.scalars(
                select(SuppressedAddress.email).where(SuppressedAddress.email.in_(addresses))
            )
        )
        if addresses
        else set()
    )
    held: list[Notification] = []
    for message in messages:
        subscription = message.subscription
        if message.recipient.strip().lower() in suppressed:
            reason = HELD_FOR_SUPPRESSION
        elif subscription.unsubscribed_at is not None and message.kind != "manage":
            reason = "unsubscribed before it was sent"
        elif subscription.confirmed_at is None and message.kind not in ("confirm", "manage"):
            reason = "the subscription is not confirmed"
        else:
            continue
        message.state = "suppressed"
        message.next_attempt_at = None
        message.last_error = reason
        held.append(message)
    session.flush()
    return held


def mark_sent(session: Session, message: Notification, now: datetime) -> None:
    """The server accepted ``message``."""
    message.state = "sent"
    message.sent_at = now
    message.next_attempt_at = None
    message.last_error = None
    session.flush()


def mark_deferred(session: Session, message: Notification, now: datetime, error: str) -> datetime:
    """A temporary failure: try again after :func:`retry_delay`; when that is."""
    message.next_attempt_at = now + retry_delay(message.attempts)
    message.last_error = error[:2000]
    session.flush()
    return message.next_attempt_at


def mark_failed(
    session: Session, message: Notification, error: str, *, suppress_address: bool = True
) -> None:
    """Refused for good: the message fails and (a refusal of the address, not of this one
    message) its address is suppressed."""
    message.state = "failed"
    message.next_attempt_at = None
    message.last_error = error[:2000]
    if suppress_address:
        suppress(session, message.recipient, error)
    session.flush()


def release(session: Session, messages: Sequence[Notification]) -> None:
    """Give claimed messages back untried: their attempt is not counted, they are due now."""
    for message in messages:
        message.attempts = max(message.attempts - 1, 0)
        message.next_attempt_at = None
    session.flush()


# --- what the admin page shows ------------------------------------------------------------
@dataclass(frozen=True)
class SuppressionRow:
    """A suppressed address and how many messages it has held back."""

    address: SuppressedAddress
    held_back: int


@dataclass(frozen=True)
class MailOverview:
    """The admin page's mail report: the outbox by state, then suppressed addresses and
    failed messages, newest first, each list at most ``limit`` long and narrowed by
    ``search`` (its ``*_total`` counts every row that matches)."""

    counts: dict[str, int]
    suppressed: list[SuppressionRow]
    suppressed_total: int
    failed: list[Notification]
    failed_total: int
    search: str
    limit: int


def _matching(column: ColumnElement[str], search: str) -> ColumnElement[bool]:
    """``column`` contains ``search``, ignoring case; no search matches everything. ``%`` and
    ``_`` in it are plain characters, not wildcards."""
    term = search.strip().lower()
    return func.lower(column).contains(term, autoescape=True) if term else true()


def suppressed_addresses(
    session: Session, *, search: str = "", limit: int = ADMIN_LIST_LIMIT
) -> list[SuppressionRow]:
    """The suppressed addresses that contain ``search``, most recently suppressed first,
    each with the messages not sent because of it (stored as suppressed, or held back when
    they were due)."""
    held_back = (
        select(func.count(Notification.id))
        .where(
            Notification.state == "suppressed",
            func.lower(Notification.recipient) == SuppressedAddress.email,
            or_(
                Notification.last_error.is_(None),
                Notification.last_error == HELD_FOR_SUPPRESSION,
            ),
        )
        .correlate(SuppressedAddress)
        .scalar_subquery()
    )
    rows = session.execute(
        select(SuppressedAddress, held_back)
        .where(_matching(SuppressedAddress.email, search))
        .order_by(SuppressedAddress.created_at.desc(), SuppressedAddress.id.desc())
        .limit(limit)
    )
    return [SuppressionRow(address, held or 0) for address, held in rows]


def failed_messages(
    session: Session, limit: int = ADMIN_LIST_LIMIT, *, search: str = ""
) -> list[Notification]:
    """Messages refused for good (mostly their addresses are suppressed), newest first;
    with ``search``, only those whose recipient contains it."""
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.state == "failed", _matching(Notification.recipient, search))
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        )
    )


def mail_overview(
    session: Session, *, search: str = "", limit: int = ADMIN_LIST_LIMIT
) -> MailOverview:
    """Everything the admin page shows about mail that did not go out (see
    :class:`MailOverview`)."""
    suppressed_total = session.scalar(
        select(func.count(SuppressedAddress.id)).where(_matching(SuppressedAddress.email, search))
    )
    failed_total = session.scalar(
        select(func.count(Notification.id)).where(
            Notification.state == "failed", _matching(Notification.recipient, search)
        )
    )
    return MailOverview(
        counts=outbox_counts(session),
        suppressed=suppressed_addresses(session, search=search, limit=limit),
        suppressed_total=suppressed_total or 0,
        failed=failed_messages(session, limit, search=search),
        failed_total=failed_total or 0,
        search=search.strip(),
        limit=limit,
    )


def lift_suppression(session: Session, address_id: int) -> str | None:
    """Let mail go to a suppressed address again: its suppression is deleted, and the
    address it named is returned (None if it was not suppressed, or lifted already).

    Only new messages go out: failed and held-back ones stay as they are, never resent.
    """
    return session.scalar(
        delete(SuppressedAddress)
        .where(SuppressedAddress.id == address_id)
        .returning(SuppressedAddress.email)
    )


def outbox_counts(session: Session) -> dict[str, int]:
    """How many messages are in each state, with ``deferred`` (pending after a failed try)
    counted apart from ``pending`` (never tried)."""
    counts = {"pending": 0, "deferred": 0, "sent": 0, "failed": 0, "suppressed": 0}
    tried = Notification.last_error.is_not(None)
    rows = session.execute(
        select(Notification.state, tried, func.count()).group_by(Notification.state, tried)
    )
    for state, tried, n in rows:
        key = "deferred" if state == "pending" and tried else state
        counts[key] = counts.get(key, 0) + n
    return counts
