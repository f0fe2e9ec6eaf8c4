"""The desk's deadline calendar: every deadline stage of the calls it pursues, and the secret
address of each person's calendar feed.

A call is pursued for a profile once its review is shortlisted or further
(``storage.reviews.PURSUED_STATUSES``); staff see only their department's profiles, as on
every other page. A feed's address holds a secret that is shown once; only its SHA-256 is
stored (``User.calendar_token_hash``), so a leaked database does not open anybody's feed, and
making a new one or revoking it closes the old address. Functions never commit.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from storage.deadlines import DEFAULT_TIMEZONE
from storage.models import CallDeadline, FundingCall, Profile, Review, User
from storage.reviews import PURSUED_STATUSES, readable_profiles
from storage.users import token_hash

MAX_TOKEN_LENGTH = 100  # token_urlsafe(24) has 32 characters


@dataclass(frozen=True)
class PursuedDeadline:
    """One deadline stage of a pursued call, for one profile."""

    key: str  # stable for this profile, call and stage (and year, for a yearly date)
    due_at: datetime  # aware, UTC
    stage_number: int  # the stage's place among the call's deadlines, from 1
    stage_count: int
    label: str
    timezone: str  # the zone the funder states the deadline in
    yearly: bool
    call: FundingCall
    profile: Profile
    status: str  # the review's status


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def _yearly_dates(month_day: str, tz: str, start: datetime, end: datetime) -> list[datetime]:
    """Each end-of-day instant of a yearly "MM-DD" date between ``start`` and ``end``."""
    try:
        month, day = (int(part) for part in month_day.split("-"))
    except ValueError:
        return []
    zone = _zone(tz)
    found = []
    for year in range(start.year - 1, end.year + 2):
        try:
            local = datetime.combine(date(year, month, day), time(23, 59, 59), tzinfo=zone)
        except ValueError:  # 29 February in a common year
            continue
        due = local.astimezone(start.tzinfo)
        if start <= due < end:
            found.append(due)
    return found


def _stages(deadlines: Iterable[CallDeadline]) -> list[CallDeadline]:
    """A call's deadlines in the order they are numbered: dated ones by date, then yearly."""
    dated = sorted((d for d in deadlines if d.due_at is not None), key=lambda d: d.due_at)
    yearly = sorted(
        (d for d in deadlines if d.due_at is None and d.recurring_month_day),
        key=lambda d: d.recurring_month_day or "",
    )
    return dated + yearly


def pursued_reviews(session: Session, who: User | Iterable[Profile]) -> list[Review]:
    """The reviews at shortlisted or further of the profiles ``who`` may see (a user: the
    active profiles they may read; or the given profiles), with call and deadlines loaded."""
    profiles = readable_profiles(session, who) if isinstance(who, User) else list(who)
    if not profiles:
        return []
    return list(
        session.scalars(
            select(Review)
            .where(
                Review.status.in_(PURSUED_STATUSES),
                Review.profile_id.in_([p.id for p in profiles]),
            )
            .options(
                selectinload(Review.call).selectinload(FundingCall.deadlines),
                selectinload(Review.profile),
            )
        )
    )


def pursued_deadlines(
    session: Session, who: User | Iterable[Profile], start: datetime, end: datetime
) -> list[PursuedDeadline]:
    """Every deadline stage due from ``start`` up to ``end`` (aware) of the calls pursued for
    the profiles of ``who`` (see :func:`pursued_reviews`), in date order."""
    found: list[PursuedDeadline] = []
    for review in pursued_reviews(session, who):
        stages = _stages(review.call.deadlines)
        for number, deadline in enumerate(stages, start=1):
            key = f"{review.profile_id}-{review.call_id}-{number}"
            if deadline.due_at is not None:
                dues = [deadline.due_at] if start <= deadline.due_at < end else []
            else:
                dues = _yearly_dates(
                    deadline.recurring_month_day or "", deadline.timezone, start, end
                )
            for due in dues:
                found.append(
                    PursuedDeadline(
                        key=key if deadline.due_at is not None else f"{key}-{due.year}",
                        due_at=due,
                        stage_number=number,
                        stage_count=len(stages),
                        label=deadline.label,
                        timezone=deadline.timezone or DEFAULT_TIMEZONE,
                        yearly=deadline.due_at is None,
                        call=review.call,
                        profile=review.profile,
                        status=review.status,
                    )
                )
    return sorted(found, key=lambda d: (d.due_at, d.call.title, d.profile.name))


# --- the feed's secret address --------------------------------------------------------------
def create_calendar_token(session: Session, user: User) -> str:
    """A new secret for ``user``'s feed, replacing any earlier one; returned once, stored
    only as its SHA-256."""
    secret = secrets.token_urlsafe(24)
    user.calendar_token_hash = token_hash(secret)
    session.flush()
    return secret


def revoke_calendar_token(session: Session, user: User) -> bool:
    """Close ``user``'s feed address; whether there was one."""
    had = user.calendar_token_hash is not None
    user.calendar_token_hash = None
    session.flush()
    return had


def user_for_calendar_token(session: Session, secret: str) -> User | None:
    """The active user whose feed secret ``secret`` is, or None."""
    if not secret or len(secret) > MAX_TOKEN_LENGTH:
        return None
    return session.scalar(
        select(User).where(User.calendar_token_hash == token_hash(secret), User.active.is_(True))
    )
