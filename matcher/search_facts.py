"""The facts of the indexed calls that a search filters, counts and sorts on, as numpy arrays.

Kept beside the text index (row for row with its ``call_ids``), so that a search filters its
matches, counts every filter's choices and orders a page without a pass over the database.
The definitions are storage's: the same fields and comparisons as ``storage.call_filters``,
and the status is ``storage.deadlines.call_status`` itself, so a call's status in a search
is the one its page shows.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import cast

import numpy as np

from storage.call_filters import FACETS, CallFilter, local_bound
from storage.deadlines import call_status, next_deadline
from storage.models import APPLICANT_TYPES, CALL_STATUSES, FundingCall

NEVER = np.iinfo(np.int64).max  # "no such instant": a missing deadline sorts last
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
UNSTATED = "unstated"
STATUS_CODE = {status: code for code, status in enumerate(CALL_STATUSES)}


def instant(moment: datetime) -> int:
    """An aware datetime as microseconds since the epoch (exact, unlike ``timestamp()``)."""
    return (moment - _EPOCH) // _US


@dataclass(slots=True)
class _Deadline:
    due_at: datetime | None
    stage: str
    recurring_month_day: str | None
    timezone: str


@dataclass(slots=True)
class _Dates:
    """What ``call_status`` and ``next_deadline`` read of a call, without the ORM object."""

    withdrawn_at: datetime | None
    deadline_model: str
    deadlines: tuple[_Deadline, ...]
    next_deadline_at: datetime | None
    status: str
    opening_date: date | None

    @classmethod
    def of(cls, call: FundingCall) -> _Dates:
        deadlines = tuple(
            _Deadline(d.due_at, d.stage, d.recurring_month_day, d.timezone) for d in call.deadlines
        )
        return cls(
            call.withdrawn_at,
            call.deadline_model,
            deadlines,
            call.next_deadline_at,
            call.status,
            call.opening_date,
        )


def _status_and_recheck(dates: _Dates, now: datetime) -> tuple[int, int]:
    """The call's status as of ``now`` and the instant after which it may differ.

    Between ``now`` and that instant none of what ``call_status`` compares with the clock
    (the next deadline, the opening date) changes, so the status stands until then.
    """
    call = cast(FundingCall, dates)
    status = call_status(call, now)
    if status in ("withdrawn", "closed"):  # neither comes back as time goes on
        return STATUS_CODE[status], NEVER
    recheck = NEVER
    if dates.deadline_model != "rolling":
        due = next_deadline(call, now) if dates.deadlines else dates.next_deadline_at
        if due is not None:
            recheck = instant(due)
    if dates.opening_date is not None and dates.opening_date > now.date():
        opens = datetime.combine(dates.opening_date, time.min, tzinfo=now.tzinfo)
        recheck = min(recheck, instant(opens) - 1)
    return STATUS_CODE[status], recheck


class _Statuses:
    """Every call's status, brought up to date for a given ``now`` by recomputing only the
    calls whose next deadline or opening date has passed since the last time."""

    def __init__(self, dates: list[_Dates]) -> None:
        self._dates = dates
        self._lock = threading.Lock()
        self._at: datetime | None = None
        self._codes = np.zeros(len(dates), dtype=np.int8)
        self._recheck = np.zeros(len(dates), dtype=np.int64)

    def at(self, now: datetime) -> np.ndarray:
        with self._lock:
            last = self._at
            if last is None or now < last or now.utcoffset() != last.utcoffset():
                rows = np.arange(len(self._dates))  # a clock going back: all afresh
            else:
                rows = np.flatnonzero(self._recheck < instant(now))
            if len(rows):
                codes, recheck = self._codes.copy(), self._recheck.copy()
                for row in rows.tolist():
                    codes[row], recheck[row] = _status_and_recheck(self._dates[row], now)
                self._codes, self._recheck = codes, recheck
            if last is None or now >= last or len(rows) == len(self._dates):
                self._at = now
            return self._codes


def _coded(values: Sequence[str]) -> tuple[list[str], np.ndarray]:
    vocabulary = sorted(set(values))
    code = {value: i for i, value in enumerate(vocabulary)}
    return vocabulary, np.fromiter((code[v] for v in values), dtype=np.int32, count=len(values))


class CallFacts:
    """Per call (by row): the coded choices of each filter, who may apply, the largest
    grant, the stored next deadline, when it was first seen, and its status over time."""

    def __init__(self, calls: Sequence[FundingCall]) -> None:
        n = len(calls)
        self.ids = np.fromiter((c.id for c in calls), dtype=np.int64, count=n)
        self.columns: dict[str, tuple[list[str], np.ndarray]] = {
            name: _coded([getattr(c, name) or "" for c in calls]) for name in FACETS
        }
        # Who may apply: per call how often it names each type, "unstated" for none (the
        # facet counts), and whether the list is stored empty (the "unstated" filter).
        named = [list(c.eligible_applicants or []) for c in calls]
        self.applicant_names = sorted({a for names in named for a in names} | {UNSTATED})
        column = {name: i for i, name in enumerate(self.applicant_names)}
        self.applicants = np.zeros((n, len(self.applicant_names)), dtype=np.uint8)
        for row, names in enumerate(named):
            for name in names or [UNSTATED]:
                self.applicants[row, column[name]] += 1
        self.no_applicants = np.fromiter(
            (c.eligible_applicants == [] for c in calls), dtype=bool, count=n
        )
        largest = [c.grant_max_eur if c.grant_max_eur is not None else c.budget_eur for c in calls]
        self.largest_grant = np.array(
            [np.nan if v is None else float(v) for v in largest], dtype=np.float64
        )
        self.deadline = np.fromiter(
            (NEVER if c.next_deadline_at is None else instant(c.next_deadline_at) for c in calls),
            dtype=np.int64,
            count=n,
        )
        self.first_seen = np.fromiter(
            (instant(c.first_seen_at) for c in calls), dtype=np.int64, count=n
        )
        self._statuses = _Statuses([_Dates.of(c) for c in calls])

    def statuses(self, now: datetime) -> np.ndarray:
        """Each call's status code (``CALL_STATUSES`` order) as ``call_status`` gives it."""
        return self._statuses.at(now)

    def masks(self, flt: CallFilter, now: datetime, timezone: str) -> dict[str, np.ndarray]:
        """One boolean mask per set field of ``flt`` (its text aside), as ``apply_filter``
        reads the field; a call passes the filter where every mask is True."""
        out: dict[str, np.ndarray] = {}
        if flt.statuses:
            wanted = [STATUS_CODE[s] for s in flt.statuses if s in STATUS_CODE]
            out["statuses"] = np.isin(self.statuses(now), wanted)
        if flt.applicant_type in APPLICANT_TYPES:
            names = self._applicant_column(flt.applicant_type) > 0
            out["applicant_type"] = names | self.no_applicants if flt.include_unstated else names
        for name in FACETS:
            value = getattr(flt, name)
            if value:
                vocabulary, codes = self.columns[name]
                code = vocabulary.index(value) if value in vocabulary else -1
                out[name] = codes == code
        has_deadline = self.deadline != NEVER
        if flt.deadline_from is not None:
            bound = instant(local_bound(flt.deadline_from, False, timezone))
            out["deadline_from"] = has_deadline & (self.deadline >= bound)
        if flt.deadline_to is not None:
            bound = instant(local_bound(flt.deadline_to, True, timezone))
            out["deadline_to"] = has_deadline & (self.deadline <= bound)
        if flt.min_grant_eur is not None:
            with np.errstate(invalid="ignore"):
                out["min_grant_eur"] = self.largest_grant >= flt.min_grant_eur
        return out

    def _applicant_column(self, name: str) -> np.ndarray:
        if name not in self.applicant_names:
            return np.zeros(len(self.ids), dtype=np.uint8)
        return self.applicants[:, self.applicant_names.index(name)]

    def counts(
        self, masks: dict[str, np.ndarray], within: np.ndarray, now: datetime
    ) -> dict[str, dict[str, int]]:
        """For each filter, how many calls (of those ``within``) each of its choices leaves,
        the other filters kept: ``storage.call_filters.facet_counts`` over the arrays."""

        def others(name: str) -> np.ndarray:
            kept = within.copy()
            for other, mask in masks.items():
                if other != name:
                    kept &= mask
            return kept

        counts: dict[str, dict[str, int]] = {}
        for name in FACETS:
            vocabulary, codes = self.columns[name]
            found = np.bincount(codes[others(name)], minlength=len(vocabulary))
            counts[name] = {v: int(k) for v, k in zip(vocabulary, found, strict=True) if v and k}
        per_type = self.applicants[others("applicant_type")].sum(axis=0, dtype=np.int64)
        counts["applicant_type"] = {
            name: int(k) for name, k in zip(self.applicant_names, per_type, strict=True) if k
        }
        found = np.bincount(self.statuses(now)[others("statuses")], minlength=len(CALL_STATUSES))
        counts["statuses"] = {
            status: int(found[STATUS_CODE[status]])
            for status in ("open", "forthcoming", "closed", "withdrawn")
        }
        return counts

    def order(self, rows: np.ndarray, scores: np.ndarray, sort: str, first: int) -> np.ndarray:
        """The first ``first`` of ``rows`` by ``sort``: relevance (best score first, lower
        id on a tie), deadline (soonest stored next deadline, none last, then id) or newest
        (latest first seen, higher id on a tie), as the SQL of the pages orders them."""
        if first <= 0 or len(rows) == 0:
            return rows[:0]
        ids = self.ids[rows]
        if sort == "relevance":
            primary, secondary = -scores[rows], ids
        elif sort == "newest":
            primary, secondary = -self.first_seen[rows], -ids
        else:
            primary, secondary = self.deadline[rows], ids
        if first < len(rows):  # only the candidates up to the first-th key need sorting
            threshold = np.partition(primary, first - 1)[first - 1]
            near = primary <= threshold
            rows, primary, secondary = rows[near], primary[near], secondary[near]
        return rows[np.lexsort((secondary, primary))][:first]
