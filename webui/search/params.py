"""A search's parameters read from a query string, one way for the page, the API and the
exports, so that they cannot disagree on defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from storage.call_filters import DEFAULT_STATUSES, SORTS, CallFilter
from storage.models import APPLICANT_TYPES, CALL_STATUSES, FUNDER_TYPES, LANGUAGES

MAX_PAGE = 10_000
MAX_PER_PAGE = 200
MAX_QUERY_LENGTH = 300


@dataclass
class SearchArgs:
    """The parsed parameters and what was wrong with the rest (each error names its field)."""

    filter: CallFilter
    sort: str = ""
    page: int = 1
    per_page: int = 25
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def more_filters_active(self) -> bool:
        """Whether a filter beyond the query and who may apply is set (the page then shows
        the folded filters open)."""
        flt = self.filter
        return bool(
            flt.funder_type or flt.programme or flt.source or flt.language
            or flt.deadline_from or flt.deadline_to or flt.min_grant_eur is not None
            or tuple(flt.statuses) != DEFAULT_STATUSES
        )  # fmt: skip

    def query_string(self, **changes: object) -> dict[str, object]:
        """The parameters as they would be written in a link, with ``changes`` applied."""
        values: dict[str, object] = {
            **self.filter.link_params(),
            "sort": self.sort,
            "page": self.page if self.page > 1 else "",
        }
        values.update(changes)
        return {k: v for k, v in values.items() if v not in ("", None, [])}


def _clean(text: str) -> str:
    # NUL bytes are refused by PostgreSQL's text type; no search term needs one.
    return text.replace("\x00", "").strip()


def _number(args: Mapping[str, str], name: str, default: int | None, low: int, high: int,
            errors: dict[str, str]) -> int | None:  # fmt: skip
    raw = _clean(args.get(name, ""))
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        errors[name] = _(
            "'%(name)s' must be a whole number, not %(value)r", name=name, value=raw[:40]
        )
        return default
    if not low <= value <= high:
        errors[name] = _(
            "'%(name)s' must be between %(low)s and %(high)s", name=name, low=low, high=high
        )
        return default
    return value


def _date(args: Mapping[str, str], name: str, errors: dict[str, str]) -> date | None:
    raw = _clean(args.get(name, ""))
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = _(
            "'%(name)s' must be a date as YYYY-MM-DD, not %(value)r", name=name, value=raw[:40]
        )
        return None


def _choice(args: Mapping[str, str], name: str, allowed: tuple[str, ...],
            errors: dict[str, str]) -> str:  # fmt: skip
    raw = _clean(args.get(name, ""))
    if raw and raw not in allowed:
        errors[name] = _(
            "unknown %(name)s %(value)r; use one of %(allowed)s",
            name=name,
            value=raw[:40],
            allowed=", ".join(allowed),
        )
        return ""
    return raw


def parse_search_args(args: MultiDict[str, str], *, per_page: int = 25) -> SearchArgs:
    """Read a search from ``args``; open and forthcoming calls unless ``status`` says otherwise.

    ``status`` may repeat (``status=open&status=closed``); ``status=all`` lists every status.
    """
    errors: dict[str, str] = {}
    statuses = [_clean(s) for s in args.getlist("status") if _clean(s)]
    if "all" in statuses:
        statuses = list(CALL_STATUSES)
    unknown = [s for s in statuses if s not in CALL_STATUSES]
    if unknown:
        errors["status"] = _(
            "unknown %(name)s %(value)r; use one of %(allowed)s",
            name="status",
            value=unknown[0][:40],
            allowed=", ".join(CALL_STATUSES),
        )
        statuses = [s for s in statuses if s in CALL_STATUSES]
    flt = CallFilter(
        text=_clean(args.get("q", ""))[:MAX_QUERY_LENGTH],
        statuses=tuple(statuses) or DEFAULT_STATUSES,
        applicant_type=_choice(args, "applicant", APPLICANT_TYPES, errors),
        include_unstated=_clean(args.get("unstated", "")) in {"1", "true", "on", "yes"},
        funder_type=_choice(args, "funder_type", FUNDER_TYPES, errors),
        programme=_clean(args.get("programme", ""))[:300],
        source=_clean(args.get("source", ""))[:64],
        language=_choice(args, "language", LANGUAGES, errors),
        deadline_from=_date(args, "deadline_from", errors),
        deadline_to=_date(args, "deadline_to", errors),
        min_grant_eur=_number(args, "min_grant", None, 0, 10**12, errors),
    )
    return SearchArgs(
        filter=flt,
        sort=_choice(args, "sort", SORTS, errors),
        page=_number(args, "page", 1, 1, MAX_PAGE, errors) or 1,
        per_page=_number(args, "per_page", per_page, 1, MAX_PER_PAGE, errors) or per_page,
        errors=errors,
    )
