"""The filters of a call search, as SQL: one definition for the pages, the API and the exports.

Status is derived from the dates in SQL the same way ``storage.deadlines.call_status`` derives
it in Python (a test holds the two together), so a call whose deadline passed after the last
crawl is "closed" in every filter and on every page, not "open" in one and missing in another.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, String, and_, cast, exists, false, func, or_, select
from sqlalchemy.orm import Session, selectinload

from storage.deadlines import FIRST_STAGE
from storage.models import APPLICANT_TYPES, CallDeadline, FundingCall, utcnow

DEFAULT_STATUSES = ("open", "forthcoming")
SORTS = ("relevance", "deadline", "newest")


@dataclass(frozen=True)
class CallFilter:
    """What a person searches for. Empty fields filter nothing, except ``statuses``: a search
    lists open and forthcoming calls unless it asks for others."""

    text: str = ""
    statuses: Sequence[str] = DEFAULT_STATUSES
    applicant_type: str = ""
    # With an applicant type: also keep calls that do not say who may apply.
    include_unstated: bool = False
    funder_type: str = ""
    programme: str = ""
    source: str = ""
    language: str = ""
    deadline_from: date | None = None
    deadline_to: date | None = None
    min_grant_eur: int | None = None

    def without(self, name: str) -> CallFilter:
        """The same filter with field ``name`` emptied (for counting that field's choices)."""
        empty: Any = (
            () if name == "statuses" else None if name.startswith(("deadline", "min")) else ""
        )
        return replace(self, **{name: empty})

    def link_params(self) -> dict[str, Any]:
        """The filter as the search page's query parameters (only those set), for links to a
        search from the pages and from the mails."""
        values: dict[str, Any] = {
            "q": self.text,
            "applicant": self.applicant_type,
            "unstated": "1" if self.include_unstated else "",
            "funder_type": self.funder_type,
            "programme": self.programme,
            "source": self.source,
            "language": self.language,
            "deadline_from": self.deadline_from.isoformat() if self.deadline_from else "",
            "deadline_to": self.deadline_to.isoformat() if self.deadline_to else "",
            "min_grant": self.min_grant_eur if self.min_grant_eur is not None else "",
        }
        if tuple(self.statuses) != DEFAULT_STATUSES:
            values["status"] = list(self.statuses)
        return {k: v for k, v in values.items() if v not in ("", None, [])}

    def to_dict(self) -> dict[str, Any]:
        """The filter as JSON (a saved search), only the fields that filter something."""
        out: dict[str, Any] = {}
        for name in _FILTER_FIELDS:
            value = getattr(self, name)
            if name == "statuses":
                value = list(value)
                if tuple(value) == DEFAULT_STATUSES:
                    continue
            elif isinstance(value, date):
                value = value.isoformat()
            if value not in ("", None, False):
                out[name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CallFilter:
        """The filter saved by :meth:`to_dict`; unknown keys are ignored, bad dates dropped."""
        values: dict[str, Any] = {}
        for name in _FILTER_FIELDS:
            if name not in data:
                continue
            value = data[name]
            if name == "statuses":
                value = tuple(str(v) for v in value)
            elif name.startswith("deadline"):
                try:
                    value = date.fromisoformat(str(value)) if value else None
                except ValueError:
                    value = None
            elif name == "min_grant_eur":
                value = int(value) if value not in (None, "") else None
            elif name == "include_unstated":
                value = bool(value)
            else:
                value = str(value)
            values[name] = value
        return cls(**values)


_FILTER_FIELDS = tuple(f.name for f in fields(CallFilter))


def _has_deadline_ahead(now: datetime) -> ColumnElement[bool]:
    """The call has a deadline a new applicant can still meet (stage 1 of a two-stage call)."""
    ahead = or_(CallDeadline.due_at >= now, CallDeadline.recurring_month_day.is_not(None))
    first_stage = or_(
        FundingCall.deadline_model != "two_stage", CallDeadline.stage.in_(sorted(FIRST_STAGE))
    )
    return exists().where(CallDeadline.call_id == FundingCall.id, ahead, first_stage)


def _has_deadlines() -> ColumnElement[bool]:
    return exists().where(CallDeadline.call_id == FundingCall.id)


def closed_clause(now: datetime) -> ColumnElement[bool]:
    """Not withdrawn, and no deadline left to meet: ``call_status(call, now) == "closed"``."""
    return and_(
        FundingCall.withdrawn_at.is_(None),
        FundingCall.deadline_model != "rolling",
        or_(
            and_(_has_deadlines(), ~_has_deadline_ahead(now)),
            and_(
                ~_has_deadlines(),
                # Each side is guarded against NULL, so that NOT of this clause is exact.
                or_(
                    and_(
                        FundingCall.next_deadline_at.is_not(None),
                        FundingCall.next_deadline_at < now,
                    ),
                    and_(FundingCall.next_deadline_at.is_(None), FundingCall.status == "closed"),
                ),
            ),
        ),
    )


def status_clause(status: str, now: datetime) -> ColumnElement[bool]:
    """SQL for "the call's status as of ``now`` is ``status``" (see ``call_status``)."""
    if status == "withdrawn":
        return FundingCall.withdrawn_at.is_not(None)
    if status == "closed":
        return closed_clause(now)
    running = and_(FundingCall.withdrawn_at.is_(None), ~closed_clause(now))
    later = or_(
        and_(FundingCall.opening_date.is_not(None), FundingCall.opening_date > now.date()),
        and_(FundingCall.opening_date.is_(None), FundingCall.status == "forthcoming"),
    )
    if status == "forthcoming":
        return and_(running, later)
    if status == "open":
        return and_(running, ~later)
    return false()


def local_bound(day: date, end: bool, timezone: str) -> datetime:
    """The first (or last) instant of ``day`` in ``timezone``: dates are meant locally."""
    moment = time.max if end else time.min
    return datetime.combine(day, moment, tzinfo=ZoneInfo(timezone))


def apply_filter(
    stmt: Select, flt: CallFilter, now: datetime, *, timezone: str = "Europe/Berlin"
) -> Select:  # type: ignore[type-arg]
    """``stmt`` (a select over ``FundingCall``) restricted by every field of ``flt`` but its
    text, which is ranked by the search index, not matched in SQL."""
    if flt.statuses:
        stmt = stmt.where(or_(*(status_clause(s, now) for s in flt.statuses)))
    if flt.applicant_type in APPLICANT_TYPES:
        # Stored as JSON text on both databases; a quoted vocabulary word is unambiguous.
        as_text = cast(FundingCall.eligible_applicants, String)
        names_it = as_text.like(f'%"{flt.applicant_type}"%')
        stmt = stmt.where(or_(names_it, as_text == "[]") if flt.include_unstated else names_it)
    if flt.funder_type:
        stmt = stmt.where(FundingCall.funder_type == flt.funder_type)
    if flt.programme:
        stmt = stmt.where(FundingCall.programme == flt.programme)
    if flt.source:
        stmt = stmt.where(FundingCall.source == flt.source)
    if flt.language:
        stmt = stmt.where(FundingCall.language == flt.language)
    if flt.deadline_from is not None:
        bound = local_bound(flt.deadline_from, False, timezone)
        stmt = stmt.where(FundingCall.next_deadline_at >= bound)
    if flt.deadline_to is not None:
        bound = local_bound(flt.deadline_to, True, timezone)
        stmt = stmt.where(FundingCall.next_deadline_at <= bound)
    if flt.min_grant_eur is not None:
        # A call qualifies when the largest grant it gives reaches the wanted sum.
        largest = func.coalesce(FundingCall.grant_max_eur, FundingCall.budget_eur)
        stmt = stmt.where(largest >= flt.min_grant_eur)
    return stmt


def filtered_call_ids(
    session: Session, flt: CallFilter, now: datetime | None = None, **kwargs: Any
) -> list[int]:
    """Ids of the calls that pass every filter of ``flt`` (its text aside)."""
    stmt = apply_filter(select(FundingCall.id), flt, now or utcnow(), **kwargs)
    return list(session.scalars(stmt))


def sorted_calls(
    session: Session,
    flt: CallFilter,
    *,
    sort: str = "deadline",
    limit: int = 25,
    offset: int = 0,
    now: datetime | None = None,
    **kwargs: Any,
) -> tuple[list[FundingCall], int]:
    """A page of the filtered calls, soonest deadline (or newest) first, and their number."""
    now = now or utcnow()
    base = apply_filter(select(FundingCall), flt, now, **kwargs)
    if sort == "newest":
        order = (FundingCall.first_seen_at.desc(), FundingCall.id.desc())
    else:
        order = (
            FundingCall.next_deadline_at.is_(None),
            FundingCall.next_deadline_at,
            FundingCall.id,
        )
    calls = session.scalars(
        base.options(selectinload(FundingCall.deadlines))
        .order_by(*order)
        .limit(limit)
        .offset(offset)
    )
    total = session.scalar(apply_filter(select(func.count(FundingCall.id)), flt, now, **kwargs))
    return list(calls), total or 0


def calls_in_order(session: Session, call_ids: Sequence[int]) -> list[FundingCall]:
    """The calls with ``call_ids``, deadlines loaded, in the order of ``call_ids``."""
    if not call_ids:
        return []
    found = session.scalars(
        select(FundingCall)
        .where(FundingCall.id.in_(list(call_ids)))
        .options(selectinload(FundingCall.deadlines))
    )
    by_id = {call.id: call for call in found}
    return [by_id[i] for i in call_ids if i in by_id]


# The filters whose choices are counted, and the column each one reads.
FACETS = {
    "funder_type": FundingCall.funder_type,
    "programme": FundingCall.programme,
    "source": FundingCall.source,
    "language": FundingCall.language,
}


def facet_counts(
    session: Session,
    flt: CallFilter,
    *,
    within: set[int] | None = None,
    now: datetime | None = None,
    **kwargs: Any,
) -> dict[str, Counter[str]]:
    """For each filter, how many calls each of its choices leaves, the other filters kept.

    ``within``: the ids a text query matched (counts are then of those calls alone).
    """
    now = now or utcnow()
    counts: dict[str, Counter[str]] = {}

    def rows(name: str, *columns: Any) -> list[Any]:
        stmt = apply_filter(select(FundingCall.id, *columns), flt.without(name), now, **kwargs)
        return [row for row in session.execute(stmt) if within is None or row[0] in within]

    for name, column in FACETS.items():
        counts[name] = Counter(value for _, value in rows(name, column) if value)
    applicants: Counter[str] = Counter()
    for _, eligible in rows("applicant_type", FundingCall.eligible_applicants):
        applicants.update(eligible or ["unstated"])
    counts["applicant_type"] = applicants
    statuses: Counter[str] = Counter()
    for status in ("open", "forthcoming", "closed", "withdrawn"):
        stmt = apply_filter(select(FundingCall.id), flt.without("statuses"), now, **kwargs)
        found = session.scalars(stmt.where(status_clause(status, now)))
        statuses[status] = sum(1 for cid in found if within is None or cid in within)
    counts["statuses"] = statuses
    return counts
