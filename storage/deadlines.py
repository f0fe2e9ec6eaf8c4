"""Deadline rules, in one place: which deadline is next, and whether a call is still open.

The crawler's store, the shared queries, the matcher's eligibility rules, the web pages and the
export all ask these functions, so a call is never "open" on one page and "closed" in an email.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from storage.models import FundingCall, utcnow

DEFAULT_TIMEZONE = "Europe/Brussels"
FIRST_STAGE = {"1", "stage 1"}


class DeadlineLike(Protocol):
    """What the rules read of a deadline: a stored ``CallDeadline`` or a crawled record."""

    @property
    def due_at(self) -> datetime | None: ...
    @property
    def stage(self) -> str: ...
    @property
    def recurring_month_day(self) -> str | None: ...
    @property
    def timezone(self) -> str: ...


def next_recurring_due(month_day: str, tz: str, now: datetime) -> datetime | None:
    """The next end-of-day instant of a yearly ``MM-DD`` date in ``tz``, from ``now`` (UTC)."""
    try:
        month, day = (int(part) for part in month_day.split("-"))
        zone = ZoneInfo(tz or "Europe/Berlin")
    except (ValueError, ZoneInfoNotFoundError):
        return None
    for year in (now.year, now.year + 1, now.year + 2):
        try:
            local = datetime.combine(date(year, month, day), time(23, 59, 59), tzinfo=zone)
        except ValueError:  # 29 February in a common year
            continue
        if local >= now:
            return local.astimezone(now.tzinfo)
    return None


def relevant_deadlines(
    deadlines: Iterable[DeadlineLike], deadline_model: str
) -> list[DeadlineLike]:
    """The deadlines a new applicant must meet: only stage 1 of a two-stage call (stage 2 is
    for invited applicants), every cut-off of a multiple cut-off call, all others."""
    relevant = list(deadlines)
    if deadline_model == "two_stage":
        first = [d for d in relevant if d.stage in FIRST_STAGE]
        dated = sorted((d for d in relevant if d.due_at is not None), key=lambda d: d.due_at)
        relevant = first or dated[:1] or relevant
    return relevant


def next_due(
    deadlines: Iterable[DeadlineLike], deadline_model: str, now: datetime
) -> tuple[datetime, str] | None:
    """The next deadline that still matters to a new applicant, with its time zone, or None."""
    ahead: list[tuple[datetime, str]] = []
    for d in relevant_deadlines(deadlines, deadline_model):
        if d.due_at is not None:
            if d.due_at >= now:
                ahead.append((d.due_at, d.timezone or DEFAULT_TIMEZONE))
        elif d.recurring_month_day:
            due = next_recurring_due(d.recurring_month_day, d.timezone, now)
            if due is not None:
                ahead.append((due, d.timezone))
    return min(ahead) if ahead else None


def compute_next_deadline(
    deadlines: Iterable[DeadlineLike], deadline_model: str, now: datetime
) -> datetime | None:
    """The next deadline that still matters to a new applicant, or None."""
    found = next_due(deadlines, deadline_model, now)
    return found[0] if found else None


def next_deadline(call: FundingCall, now: datetime | None = None) -> datetime | None:
    """The next deadline of a stored call (its deadlines must be loaded)."""
    now = now or utcnow()
    if not call.deadlines:
        due = call.next_deadline_at
        return due if due is not None and due >= now else None
    return compute_next_deadline(call.deadlines, call.deadline_model, now)


def call_status(call: FundingCall, now: datetime | None = None) -> str:
    """The status of ``call`` as of ``now``, derived from its dates, not trusted from the source.

    withdrawn: the source no longer lists it; closed: no deadline a new applicant could still
    meet (for a two-stage call, stage 1 has passed); forthcoming: it opens later; open
    otherwise. Rolling calls stay open. Where the dates are silent (no deadline, no opening
    date) the stored ``status`` — what the source said — decides between closed, forthcoming
    and open; where they speak, they win (the EU index keeps stale "forthcoming" records).
    """
    now = now or utcnow()
    if call.withdrawn_at is not None:
        return "withdrawn"
    if call.deadline_model != "rolling":
        if call.deadlines:
            if next_deadline(call, now) is None:
                return "closed"
        elif call.next_deadline_at is not None:
            if call.next_deadline_at < now:
                return "closed"
        elif call.status == "closed":
            return "closed"
    if call.opening_date is not None:
        return "forthcoming" if call.opening_date > now.date() else "open"
    return "forthcoming" if call.status == "forthcoming" else "open"
