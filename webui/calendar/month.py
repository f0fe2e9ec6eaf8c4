"""A month of the calendar: which month is asked for, its bounds, and its weeks of days.

Pure functions over dates: no request, no session. Days are local days (Europe/Berlin), so
a deadline at 23:59 Brussels time lands on the day a reader in Hannover sees on the wall.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from storage.calendar import PursuedDeadline

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Month:
    """A calendar month."""

    year: int
    month: int

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    @property
    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def bounds(self, timezone: str) -> tuple[datetime, datetime]:
        """The month's first and the next month's first instant in ``timezone``, as UTC."""
        zone = ZoneInfo(timezone)
        start = datetime.combine(self.first, time(0), tzinfo=zone)
        end = datetime.combine(self.next.first, time(0), tzinfo=zone)
        return start.astimezone(UTC), end.astimezone(UTC)


def parse_month(text: str | None, today: date) -> Month | None:
    """The month of ``?month=2026-12``; today's month when absent, None when unreadable."""
    if not text:
        return Month(today.year, today.month)
    found = _MONTH.match(text.strip())
    if not found:
        return None
    year, month = int(found.group(1)), int(found.group(2))
    if not (1 <= month <= 12 and 1900 <= year <= 2999):
        return None
    return Month(year, month)


@dataclass
class Day:
    """One day of the grid, with the deadlines due on it (local time)."""

    day: date
    in_month: bool
    today: bool
    entries: list[PursuedDeadline] = field(default_factory=list)


def weeks(
    month: Month, entries: Iterable[PursuedDeadline], timezone: str, today: date
) -> list[list[Day]]:
    """The month as weeks from Monday to Sunday, days of the neighbouring months filling
    the first and last week, each day with its deadlines in time order."""
    zone = ZoneInfo(timezone)
    start = month.first - timedelta(days=month.first.weekday())
    last = month.next.first - timedelta(days=1)
    end = last + timedelta(days=6 - last.weekday())
    days: dict[date, Day] = {}
    current = start
    while current <= end:
        days[current] = Day(current, current.month == month.month, current == today)
        current += timedelta(days=1)
    for entry in sorted(entries, key=lambda e: e.due_at):
        local = entry.due_at.astimezone(zone).date()
        if local in days:
            days[local].entries.append(entry)
    ordered = list(days.values())
    return [ordered[i : i + 7] for i in range(0, len(ordered), 7)]
