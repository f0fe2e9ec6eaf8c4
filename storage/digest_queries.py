"""What the mail composer reads: who is due, which calls are new to them, what changed, which
deadlines are near, and the record of what each subscription has sent.

The rules of "new since the last digest" live here, as data functions: a subscription sends
nothing before it is confirmed, after it is unsubscribed or to a suppressed address; a call
sent once on a subscription is never sent on it again, and one its subscriber dismissed never
appears; a call the desk marked not relevant for a profile never appears in that profile's
digests. Each function takes a session; none commits. Saved searches are run by the matcher's
search (``matcher.search``), which storage may not import: :func:`unseen_call_ids` filters
its results.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, func, insert, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from storage.deadlines import call_status, next_recurring_due
from storage.matching import NOT_RELEVANT_STATUS, RANKABLE_STATUSES
from storage.models import (
    CallChange,
    CallDeadline,
    FundingCall,
    Match,
    Notification,
    Profile,
    Review,
    Subscription,
    SubscriptionCall,
    SuppressedAddress,
)
from storage.reviews import PURSUED_STATUSES

# Reminders go out this many days before a deadline; the nearest stage wins, so a deadline
# first seen 2 days ahead gets the 3-day reminder only.
REMINDER_DAYS = (14, 3)
_IN_CHUNK = 1000  # ids per IN (...) list, well below SQLite's variable limit


# --- who is due ---------------------------------------------------------------------------
def digest_period(frequency: str, moment: datetime, timezone: str) -> str:
    """The outbox period of a digest composed at ``moment``: one message per period.

    immediate: the local hour ("2026-12-03T14"), so a burst of re-matches sends at most one
    mail an hour; daily: the local day ("2026-12-03"); weekly: the ISO week ("2026-W49").
    """
    local = moment.astimezone(ZoneInfo(timezone))
    if frequency == "immediate":
        return local.strftime("%Y-%m-%dT%H")
    if frequency == "daily":
        return local.date().isoformat()
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


def active_clause() -> ColumnElement[bool]:
    """SQL for "this subscription may be sent mail": confirmed, not unsubscribed, and its
    address not suppressed."""
    return and_(
        Subscription.confirmed_at.is_not(None),
        Subscription.unsubscribed_at.is_(None),
        ~exists().where(SuppressedAddress.email == func.lower(Subscription.email)),
    )


def due_subscriptions(
    session: Session,
    now: datetime,
    timezone: str,
    *,
    kinds: Sequence[str] | None = None,
    frequencies: Sequence[str] | None = None,
) -> list[Subscription]:
    """Active subscriptions whose frequency lets them send at ``now``, by id.

    Due means no digest (or change alert) was composed in the current period of its
    frequency: ``last_sent_at`` falls in an earlier hour, day or week. Whether there is
    anything new to send is for the composer to find out.
    """
    stmt = select(Subscription).where(active_clause()).order_by(Subscription.id)
    if kinds is not None:
        stmt = stmt.where(Subscription.kind.in_(list(kinds)))
    if frequencies is not None:
        stmt = stmt.where(Subscription.frequency.in_(list(frequencies)))
    return [
        s
        for s in session.scalars(stmt)
        if s.last_sent_at is None
        or digest_period(s.frequency, s.last_sent_at, timezone)
        != digest_period(s.frequency, now, timezone)
    ]


# --- which calls are new to a subscription ------------------------------------------------
def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), _IN_CHUNK):
        yield list(ids[start : start + _IN_CHUNK])


def seen_call_ids(session: Session, subscription_ids: Iterable[int]) -> dict[int, set[int]]:
    """Per subscription, the calls it sent or its subscriber dismissed (never shown again)."""
    ids = sorted(set(subscription_ids))
    seen: dict[int, set[int]] = {i: set() for i in ids}
    for chunk in _chunks(ids):
        rows = session.execute(
            select(SubscriptionCall.subscription_id, SubscriptionCall.call_id).where(
                SubscriptionCall.subscription_id.in_(chunk)
            )
        )
        for subscription_id, call_id in rows:
            seen[subscription_id].add(call_id)
    return seen


def unseen_call_ids(
    session: Session, subscription: Subscription, call_ids: Sequence[int]
) -> list[int]:
    """``call_ids`` without those ``subscription`` sent or its subscriber dismissed, in order."""
    seen = seen_call_ids(session, [subscription.id])[subscription.id]
    return [c for c in call_ids if c not in seen]


def profile_candidates(session: Session, profile_id: int, now: datetime) -> list[Match]:
    """The profile's current matches that a digest may offer, best first: calls still open
    or forthcoming, none the desk marked not relevant for this profile, none of an inactive
    profile. Calls (with deadlines) are loaded."""
    not_relevant = select(Review.call_id).where(
        Review.profile_id == profile_id, Review.status == NOT_RELEVANT_STATUS
    )
    matches = session.scalars(
        select(Match)
        .join(Profile, Profile.id == Match.profile_id)
        .where(Match.profile_id == profile_id, Profile.active, Match.call_id.not_in(not_relevant))
        .options(selectinload(Match.call).selectinload(FundingCall.deadlines))
        .order_by(Match.rank, Match.id)
    )
    return [m for m in matches if call_status(m.call, now) in RANKABLE_STATUSES]


def new_profile_matches(session: Session, subscription: Subscription, now: datetime) -> list[Match]:
    """The matches a profile subscription has not sent yet (nor had dismissed), best first."""
    if subscription.profile_id is None:
        return []
    seen = seen_call_ids(session, [subscription.id])[subscription.id]
    return [
        m
        for m in profile_candidates(session, subscription.profile_id, now)
        if m.call_id not in seen
    ]


def record_sent(
    session: Session,
    subscription: Subscription,
    call_ids: Iterable[int],
    notification: Notification,
    now: datetime,
) -> None:
    """Record that ``notification`` carries ``call_ids``: they are never sent on this
    subscription again. Raises ``IntegrityError`` if one was recorded meanwhile (by another
    composer): run it in the savepoint that stored the message, so both go or neither."""
    rows = [
        {
            "subscription_id": subscription.id,
            "call_id": call_id,
            "notification_id": notification.id,
            "sent_at": now,
        }
        for call_id in call_ids
    ]
    if rows:
        session.execute(insert(SubscriptionCall), rows)


# --- change alerts ------------------------------------------------------------------------
def changes_since_last_alert(
    session: Session, subscription: Subscription, now: datetime
) -> list[CallChange]:
    """The followed call's changes since its last alert (since it was confirmed, the first
    time), oldest first; empty for other kinds or a withdrawn-and-gone call."""
    if subscription.call_id is None or subscription.confirmed_at is None:
        return []
    since = max(subscription.last_sent_at or subscription.confirmed_at, subscription.confirmed_at)
    return list(
        session.scalars(
            select(CallChange)
            .where(
                CallChange.call_id == subscription.call_id,
                CallChange.changed_at > since,
                CallChange.changed_at <= now,
            )
            .order_by(CallChange.changed_at, CallChange.id)
        )
    )


# --- deadline reminders -------------------------------------------------------------------
@dataclass(frozen=True)
class DueReminder:
    """A deadline stage near enough for a reminder on one subscription."""

    subscription: Subscription
    call: FundingCall
    deadline: CallDeadline
    due_at: datetime
    days: int  # the reminder stage: 14 or 3

    @property
    def period(self) -> str:
        """The outbox period, one per deadline (and year, for a yearly date) and stage."""
        year = f" {self.due_at.year}" if self.deadline.due_at is None else ""
        return f"deadline {self.deadline.id}{year} d{self.days}"


def _reminder_stage(due_at: datetime, now: datetime) -> int | None:
    left = due_at - now
    if left <= timedelta(0):
        return None
    for days in sorted(REMINDER_DAYS):
        if left <= timedelta(days=days):
            return days
    return None


def due_reminders(session: Session, now: datetime) -> list[DueReminder]:
    """Reminders due at ``now``: for each active subscription, each deadline stage of the
    calls it follows (kind call) or the desk pursues for its profile (shortlisted or further,
    kind profile) that is at most 14 (or 3) days ahead. The composer stores each once; the
    outbox's unique period makes asking again harmless. Withdrawn calls and calls the
    subscriber dismissed get none."""
    horizon = now + timedelta(days=max(REMINDER_DAYS))
    near = or_(
        and_(CallDeadline.due_at > now, CallDeadline.due_at <= horizon),
        and_(CallDeadline.due_at.is_(None), CallDeadline.recurring_month_day.is_not(None)),
    )
    dismissed = exists().where(
        SubscriptionCall.subscription_id == Subscription.id,
        SubscriptionCall.call_id == CallDeadline.call_id,
        SubscriptionCall.dismissed_at.is_not(None),
    )
    live = exists().where(
        FundingCall.id == CallDeadline.call_id, FundingCall.withdrawn_at.is_(None)
    )
    followed = (
        select(Subscription, CallDeadline)
        .join(CallDeadline, CallDeadline.call_id == Subscription.call_id)
        .where(Subscription.kind == "call", active_clause(), near, live)
    )
    pursued = (
        select(Subscription, CallDeadline)
        .join(Review, Review.profile_id == Subscription.profile_id)
        .join(CallDeadline, CallDeadline.call_id == Review.call_id)
        .where(
            Subscription.kind == "profile",
            Review.status.in_(PURSUED_STATUSES),
            active_clause(),
            near,
            live,
            ~dismissed,
        )
    )
    found: list[DueReminder] = []
    for stmt in (followed, pursued):
        rows = session.execute(
            stmt.options(joinedload(CallDeadline.call)).order_by(Subscription.id, CallDeadline.id)
        )
        for subscription, deadline in rows:
            due = deadline.due_at
            if due is None and deadline.recurring_month_day:
                due = next_recurring_due(deadline.recurring_month_day, deadline.timezone, now)
            if due is None:
                continue
            days = _reminder_stage(due, now)
            if days is not None:
                found.append(DueReminder(subscription, deadline.call, deadline, due, days))
    return found
