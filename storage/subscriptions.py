"""Subscriptions: who wants which email, double opt-in, unsubscribing, erasure, dismissals.

The web forms and ``foerderdesk subscriptions add`` both go through :func:`subscribe`, so a
subscription is validated one way. A subscription sends nothing until it is confirmed and
nothing after it is unsubscribed (the outbox and the digests read ``confirmed_at`` and
``unsubscribed_at``); these functions only record the person's wishes and never commit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.call_filters import CallFilter
from storage.links import CONFIRM_MAX_AGE_SECONDS
from storage.matching import NOT_RELEVANT_STATUS
from storage.models import (
    FREQUENCIES,
    LANGUAGES,
    SUBSCRIPTION_KINDS,
    FundingCall,
    Notification,
    Profile,
    Subscription,
    SubscriptionCall,
    User,
    utcnow,
)
from storage.reviews import may_edit, may_read, update_review

MAX_EMAIL_LENGTH = 320
# Deliberately loose: one @, a dot in the domain, no spaces. The confirmation mail is the
# real test of an address.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")


class SubscriptionError(ValueError):
    """A subscription that cannot be made; ``field`` names the input that was wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Dismissal:
    """A call a subscriber marked "not relevant for me"; ``reviewed``: the desk's review of
    the profile was set to not relevant as well (which moves the profile's ranking)."""

    subscription: Subscription
    call_id: int
    reviewed: bool


def normalize_email(email: str) -> str:
    """``email`` as stored: trimmed and in lower case; raises :class:`SubscriptionError`."""
    address = (email or "").strip().lower()
    if (
        not address
        or len(address) > MAX_EMAIL_LENGTH
        or not _EMAIL.match(address)
        or any(ord(ch) < 32 for ch in address)
    ):
        raise SubscriptionError("email", "not a valid email address")
    return address


def _saved_search(query: CallFilter | Mapping[str, Any] | str | None) -> dict[str, Any]:
    """A saved search as stored: ``CallFilter.to_dict()``; plain text is a query's words."""
    if isinstance(query, CallFilter):
        return query.to_dict()
    if isinstance(query, str):
        return CallFilter(text=query.strip()).to_dict()
    try:
        return CallFilter.from_dict(query or {}).to_dict()
    except (TypeError, ValueError) as exc:
        raise SubscriptionError("query", f"not a saved search: {exc}") from exc


def _target(
    session: Session,
    kind: str,
    profile_id: int | None,
    call_id: int | None,
    query: CallFilter | Mapping[str, Any] | str | None,
) -> dict[str, Any]:
    """The columns naming what ``kind`` is about; exactly one target per kind."""
    if kind not in SUBSCRIPTION_KINDS:
        raise SubscriptionError("kind", f"use one of {', '.join(SUBSCRIPTION_KINDS)}")
    if kind == "profile":
        if profile_id is None or call_id is not None or query:
            raise SubscriptionError("profile", "a profile subscription names one profile only")
        profile = session.get(Profile, profile_id)
        if profile is None or not profile.active:
            raise SubscriptionError("profile", "no such profile")
        return {"profile_id": profile_id, "call_id": None, "query": {}}
    if kind == "call":
        if call_id is None or profile_id is not None or query:
            raise SubscriptionError("call", "following a call names one call only")
        if session.get(FundingCall, call_id) is None:
            raise SubscriptionError("call", "no such call")
        return {"profile_id": None, "call_id": call_id, "query": {}}
    if profile_id is not None or call_id is not None:
        raise SubscriptionError("query", "a saved search names no profile and no call")
    return {"profile_id": None, "call_id": None, "query": _saved_search(query)}


def _confirm_window_passed(subscription: Subscription) -> bool:
    """Unconfirmed, and its confirmation link has expired: nobody can confirm it any more."""
    cutoff = utcnow() - timedelta(seconds=CONFIRM_MAX_AGE_SECONDS)
    return subscription.confirmed_at is None and subscription.created_at < cutoff


def _delete_subscriptions(session: Session, ids: list[int]) -> None:
    if not ids:
        return
    session.execute(delete(SubscriptionCall).where(SubscriptionCall.subscription_id.in_(ids)))
    session.execute(delete(Notification).where(Notification.subscription_id.in_(ids)))
    session.execute(
        delete(Subscription)
        .where(Subscription.id.in_(ids))
        .execution_options(synchronize_session="fetch")
    )


def subscribe(
    session: Session,
    *,
    email: str,
    kind: str,
    profile_id: int | None = None,
    call_id: int | None = None,
    query: CallFilter | Mapping[str, Any] | str | None = None,
    frequency: str,
    language: str,
    user_id: int | None = None,
    confirmed: bool = False,
) -> Subscription:
    """Record that ``email`` wants mail about one profile's matches, a saved search or a call.

    ``query`` (for ``kind="search"``) is a ``CallFilter``, its ``to_dict()``, or plain search
    words. An active subscription of the same address to the same target is returned instead
    of a second one (its frequency and language unchanged); an unconfirmed one whose
    confirmation link expired is replaced. ``user_id``: the logged-in person subscribing, who
    must be allowed to read the profile. ``confirmed``: skip the opt-in (imports of lists
    that were confirmed elsewhere). Raises :class:`SubscriptionError`.
    """
    address = normalize_email(email)
    if frequency not in FREQUENCIES:
        raise SubscriptionError("frequency", f"use one of {', '.join(FREQUENCIES)}")
    if language not in LANGUAGES:
        raise SubscriptionError("language", f"use one of {', '.join(LANGUAGES)}")
    target = _target(session, kind, profile_id, call_id, query)
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None:
            raise SubscriptionError("user", "no such user")
        if kind == "profile":
            profile = session.get(Profile, profile_id)
            if profile is None or not may_read(user, profile):
                raise SubscriptionError("profile", "this profile's matches are not open to you")

    now = utcnow()
    stale: list[int] = []
    for existing in session.scalars(
        select(Subscription)
        .where(
            func.lower(Subscription.email) == address,
            Subscription.kind == kind,
            Subscription.unsubscribed_at.is_(None),
        )
        .order_by(Subscription.id)
    ):
        same = (existing.profile_id, existing.call_id, existing.query or {}) == (
            target["profile_id"],
            target["call_id"],
            target["query"],
        )
        if not same:
            continue
        if _confirm_window_passed(existing) and not confirmed:
            stale.append(existing.id)
            continue
        if confirmed and existing.confirmed_at is None:
            existing.confirmed_at = now
        if existing.user_id is None and user_id is not None:
            existing.user_id = user_id
        session.flush()
        return existing
    _delete_subscriptions(session, stale)

    subscription = Subscription(
        email=address,
        kind=kind,
        frequency=frequency,
        language=language,
        user_id=user_id,
        confirmed_at=now if confirmed else None,
        created_at=now,
        **target,
    )
    session.add(subscription)
    session.flush()
    return subscription


def get_subscription(session: Session, subscription_id: int) -> Subscription | None:
    """The subscription with ``subscription_id``, or None (erased, or never there)."""
    return session.get(Subscription, subscription_id)


def _existing(session: Session, subscription_id: int) -> Subscription:
    subscription = get_subscription(session, subscription_id)
    if subscription is None:
        raise SubscriptionError("subscription", "no such subscription")
    return subscription


def confirm(session: Session, subscription_id: int) -> Subscription:
    """Confirm the subscription (the opt-in link was followed); idempotent.

    An unsubscribed subscription stays unsubscribed: an old confirmation link cannot undo
    an unsubscribe. Raises :class:`SubscriptionError` when it no longer exists.
    """
    subscription = _existing(session, subscription_id)
    if subscription.confirmed_at is None and subscription.unsubscribed_at is None:
        subscription.confirmed_at = utcnow()
        session.flush()
    return subscription


def unsubscribe(session: Session, subscription_id: int) -> Subscription | None:
    """Send nothing more for this subscription; idempotent. None if it no longer exists
    (an erased subscription is as unsubscribed as it gets)."""
    subscription = get_subscription(session, subscription_id)
    if subscription is not None and subscription.unsubscribed_at is None:
        subscription.unsubscribed_at = utcnow()
        session.flush()
    return subscription


def subscriptions_of(session: Session, email: str) -> list[Subscription]:
    """Every subscription of ``email``, unsubscribed ones included, oldest first."""
    try:
        address = normalize_email(email)
    except SubscriptionError:
        return []
    return list(
        session.scalars(
            select(Subscription)
            .where(func.lower(Subscription.email) == address)
            .order_by(Subscription.created_at, Subscription.id)
        )
    )


def manage_anchor(session: Session, email: str) -> Subscription | None:
    """The subscription a "manage your subscriptions" mail is filed under in the outbox:
    the oldest active one, else the oldest; None when ``email`` has none."""
    subscriptions = subscriptions_of(session, email)
    active = [s for s in subscriptions if s.unsubscribed_at is None]
    return (active or subscriptions or [None])[0]


def delete_everything_of(session: Session, email: str) -> int:
    """Erase every subscription of ``email`` with its messages and its sent and dismissed
    calls (GDPR erasure); how many subscriptions there were.

    A suppressed address stays suppressed: that record only stops mail to an address that
    refuses it, and holds nothing but the address.
    """
    ids = [s.id for s in subscriptions_of(session, email)]
    _delete_subscriptions(session, ids)
    session.flush()
    return len(ids)


def subscription_targets(
    session: Session, subscriptions: Iterable[Subscription]
) -> dict[int, Profile | FundingCall]:
    """The profile or call each subscription is about, keyed by subscription id (saved
    searches, and targets that no longer exist, are missing)."""
    subs = list(subscriptions)
    profile_ids = {s.profile_id for s in subs if s.profile_id is not None}
    call_ids = {s.call_id for s in subs if s.call_id is not None}
    profiles = (
        {p.id: p for p in session.scalars(select(Profile).where(Profile.id.in_(profile_ids)))}
        if profile_ids
        else {}
    )
    calls = (
        {c.id: c for c in session.scalars(select(FundingCall).where(FundingCall.id.in_(call_ids)))}
        if call_ids
        else {}
    )
    out: dict[int, Profile | FundingCall] = {}
    for s in subs:
        found = profiles.get(s.profile_id) if s.profile_id is not None else calls.get(s.call_id)  # type: ignore[arg-type]
        if found is not None:
            out[s.id] = found
    return out


def subscribable_profile(session: Session, slug: str) -> Profile | None:
    """The active profile with ``slug``, whose matches one may subscribe to."""
    return session.scalar(select(Profile).where(Profile.slug == slug, Profile.active))


def _sent_or_dismissed(
    session: Session, subscription_id: int, call_id: int
) -> SubscriptionCall | None:
    return session.scalar(
        select(SubscriptionCall).where(
            SubscriptionCall.subscription_id == subscription_id,
            SubscriptionCall.call_id == call_id,
        )
    )


def dismiss_call(
    session: Session, subscription_id: int, call_id: int, *, user: User | None = None
) -> Dismissal:
    """Record "not relevant for me": this subscription never shows ``call_id`` again.

    For a profile subscription, when ``user`` (the logged-in person) may edit the desk's
    reviews, the call's review is set to not relevant too, which re-ranks the profile.
    Anyone else's dismissal stays theirs: only the desk's reviews are the desk's verdict.
    Idempotent; raises :class:`SubscriptionError` for an unknown subscription or call.
    """
    subscription = _existing(session, subscription_id)
    if session.get(FundingCall, call_id) is None:
        raise SubscriptionError("call", "no such call")
    row = _sent_or_dismissed(session, subscription_id, call_id)
    if row is None:
        try:
            # A savepoint: a digest recording this call at the same moment collides on the
            # unique pair; the row it stored is then marked instead.
            with session.begin_nested():
                session.add(
                    SubscriptionCall(
                        subscription_id=subscription_id, call_id=call_id, dismissed_at=utcnow()
                    )
                )
        except IntegrityError:
            row = _sent_or_dismissed(session, subscription_id, call_id)
    if row is not None and row.dismissed_at is None:
        row.dismissed_at = utcnow()

    reviewed = False
    if subscription.kind == "profile" and user is not None:
        profile = session.get(Profile, subscription.profile_id)
        if profile is not None and may_edit(user, profile):
            update_review(session, user, profile, call_id, status=NOT_RELEVANT_STATUS)
            reviewed = True
    session.flush()
    return Dismissal(subscription=subscription, call_id=call_id, reviewed=reviewed)
