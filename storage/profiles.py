"""Reading, validating and importing profiles (city projects and partner organisations).

A file is imported whole or not at all: every row is validated first, and each error names
the row and the field, so a person can fix the file in one pass.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, SmallInteger, String, select
from sqlalchemy.orm import Session

from storage.models import APPLICANT_TYPES, LANGUAGES, PROFILE_KINDS, Profile
from storage.profile_files import Problem, ProfileFileError, decode, read_table
from storage.sanitize import CONTROL_IN_LINE, CONTROL_IN_TEXT
from storage.work_queue import enqueue_rematch

# Words people write in a profile file for who they are, mapped onto the one vocabulary.
APPLICANT_ALIASES = {
    "kommune": "municipality",
    "stadt": "municipality",
    "gemeinde": "municipality",
    "local authority": "municipality",
    "öffentliche einrichtung": "public_body",
    "oeffentliche_einrichtung": "public_body",
    "public body": "public_body",
    "verein": "ngo",
    "ngo_verein": "ngo",
    "ngo/association": "ngo",
    "association": "ngo",
    "gemeinnützige organisation": "ngo",
    "stiftung": "ngo",
    "unternehmen": "company",
    "kmu": "company",
    "sme": "company",
    "hochschule": "research",
    "forschung": "research",
    "university": "research",
    "bildung": "education",
    "bildungseinrichtung": "education",
    "schule": "education",
    "school": "education",
    "privatperson": "individual",
}

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,99}$")
REGION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$|^EU$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LIST_FIELDS = ("themes", "keywords", "partner_countries")
INT_FIELDS = ("budget_min_eur", "budget_max_eur", "lead_time_days")
DATE_FIELDS = ("start_date", "end_date")
TEXT_FIELDS = ("department", "legal_form", "contact_email")
KNOWN_FIELDS = frozenset(
    {
        "slug",
        "kind",
        "name",
        "description",
        "applicant_type",
        "region",
        "language",
        "active",
        *LIST_FIELDS,
        *INT_FIELDS,
        *DATE_FIELDS,
        *TEXT_FIELDS,
    }
)
KNOWN_SHOWN = ", ".join(sorted(KNOWN_FIELDS))
# Fields that may hold several lines (lists are split at line ends); every other text is one
# line, and no text holds other control characters: NUL cannot be stored on PostgreSQL at all.
MULTILINE_FIELDS = ("description", *LIST_FIELDS)
# The longest text each String(N) column holds, from the model, so the rule follows it (and a
# long name is refused on SQLite as on PostgreSQL, which would refuse it with a traceback).
STRING_LIMITS = {
    column.name: column.type.length
    for column in Profile.__table__.columns
    if isinstance(column.type, String) and column.type.length
}
# The most a number may be, from its meaning: no programme funds more than 10^12 euros, and a
# lead time beyond ten years is a typo. Both are well within what their columns hold.
NUMBER_BOUNDS = {
    "budget_min_eur": (10**12, "euros"),
    "budget_max_eur": (10**12, "euros"),
    "lead_time_days": (3650, "days"),
}
_WHOLE = re.compile(r"[+-]?[0-9]+")
_SCIENTIFIC = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?[eE][+-]?[0-9]+")
# English month names whatever the locale, so the message reads the same everywhere.
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def _column_max(name: str) -> int:
    kind = type(Profile.__table__.c[name].type)
    bits = 64 if issubclass(kind, BigInteger) else 16 if issubclass(kind, SmallInteger) else 32
    return 2 ** (bits - 1) - 1


# Should a column become narrower than a bound, the column's limit is the one enforced.
NUMBER_LIMITS = {
    name: (min(bound, _column_max(name)), unit) for name, (bound, unit) in NUMBER_BOUNDS.items()
}


class ProfileInvalid(ValueError):
    """Values for one profile (a form) that cannot be saved; ``problems`` says why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(problem.describe() for problem in problems))

    def by_field(self) -> dict[str, list[Problem]]:
        """The problems grouped by field, in the order found."""
        grouped: dict[str, list[Problem]] = {}
        for problem in self.problems:
            grouped.setdefault(problem.field, []).append(problem)
        return grouped


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


def parse_rows(text: str, name: str) -> list[dict[str, Any]]:
    """Rows of a YAML or CSV profile file's ``text`` (``name`` tells which), not yet
    validated; raises :class:`ProfileFileError` when the file cannot be read as rows."""
    numbered, problems = read_table(text, name, KNOWN_FIELDS)
    if problems:
        raise ProfileFileError(name, problems)
    return [row for _, row in numbered]


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a YAML or CSV profile file, as dictionaries (not yet validated)."""
    return parse_rows(decode(path.read_bytes(), str(path)), str(path))


def _as_list(value: Any) -> list[str] | None:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[;\n]", value) if part.strip()]
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return [str(v).strip() for v in value if str(v).strip()]
    return None


def _character_problems(row: dict[str, Any]) -> list[Problem]:
    """A problem for each known field whose text holds a control character (NUL, ESC, …) or
    half of a surrogate pair: neither database stores them alike, and no profile needs them."""
    problems = []
    for name in sorted(KNOWN_FIELDS & set(row)):
        value = row[name]
        pattern = CONTROL_IN_TEXT if name in MULTILINE_FIELDS else CONTROL_IN_LINE
        for text in value if isinstance(value, list) else [value]:
            found = pattern.search(text) if isinstance(text, str) else None
            if found:
                code = ord(found.group())
                what = "a lone surrogate" if 0xD800 <= code <= 0xDFFF else "the control character"
                problems.append(Problem(name, "bad_character", f"{what} U+{code:04X}"))
                break
    return problems


def _whole_number(raw: Any) -> int | None:
    """``raw`` as a whole number, or None if it is not one; 1e6 and 5.0 are whole numbers."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return int(raw) if raw.is_integer() else None
    text = str(raw).strip().replace("_", "").replace(" ", "")
    if _WHOLE.fullmatch(text):
        # Beyond 30 digits the exact value does not matter (it is too large for any field),
        # and Python refuses to convert very long digit strings.
        return int(text) if len(text) <= 30 else 10**30
    if _SCIENTIFIC.fullmatch(text):
        number = Decimal(text)
        if number.adjusted() > 30:
            return 10**30 if number > 0 else -(10**30)
        return int(number) if number == number.to_integral_value() else None
    return None


def _number(name: str, raw: Any) -> tuple[int | None, Problem | None]:
    """The number of the field ``name`` (None when empty) and what is wrong with it."""
    if raw is None or raw == "":
        return None, None
    number = _whole_number(raw)
    if number is None:
        return None, Problem(name, "not_a_number", str(raw))
    limit, unit = NUMBER_LIMITS[name]
    if number < 0:
        return number, Problem(name, "negative", str(raw).strip())
    if number > limit:
        return number, Problem(name, "too_large", str(raw).strip(), f"{limit} {unit}")
    return number, None


def _date(name: str, raw: Any) -> tuple[date | None, Problem | None]:
    """The date of the field ``name`` (None when empty) and what is wrong with it: only
    YYYY-MM-DD is a date, and a day the calendar does not have is named as such."""
    if raw is None or raw == "":
        return None, None
    if isinstance(raw, datetime):
        return raw.date(), None
    if isinstance(raw, date):
        return raw, None
    text = str(raw).strip()
    parts = _ISO_DATE.fullmatch(text)
    if parts is None:
        return None, Problem(name, "not_a_date", str(raw))
    year, month, day = (int(part) for part in parts.groups())
    try:
        return date(year, month, day), None
    except ValueError:
        pass
    if not 1 <= month <= 12:
        why = f"there is no month {month}"
    elif year == 0:
        why = "there is no year 0"
    else:
        days = calendar.monthrange(year, month)[1]
        why = f"{MONTHS[month - 1]} {year} has {days} days"
    return None, Problem(name, "no_such_date", text, why)


def validate_row(row: dict[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Clean one row; return the values and the problems found (without a row number)."""
    problems: list[Problem] = []
    out: dict[str, Any] = {}
    for key in sorted(set(row) - KNOWN_FIELDS):
        problems.append(Problem(key, "unknown_field", allowed=KNOWN_SHOWN))
    problems.extend(_character_problems(row))

    def text(name: str, required: bool = False) -> str:
        value = row.get(name)
        value = "" if value is None else str(value).strip()
        if required and not value:
            problems.append(Problem(name, "required"))
        return value

    def one_of(name: str, value: str, allowed: tuple[str, ...], shown: object = None) -> None:
        if value and value not in allowed:
            problems.append(
                Problem(name, "not_one_of", str(shown or value), allowed=", ".join(allowed))
            )

    slug = text("slug", required=True)
    if slug and not SLUG.match(slug):
        problems.append(Problem("slug", "slug_format", slug))
    out["slug"] = slug
    kind = text("kind", required=True).lower()
    one_of("kind", kind, PROFILE_KINDS)
    out["kind"] = kind
    out["name"] = text("name", required=True)
    description = text("description", required=True)
    if description and len(description) < 40:
        problems.append(Problem("description", "too_short"))
    out["description"] = description
    applicant = text("applicant_type", required=True)
    applicant = APPLICANT_ALIASES.get(applicant.lower(), applicant.lower())
    one_of("applicant_type", applicant, APPLICANT_TYPES, row.get("applicant_type"))
    out["applicant_type"] = applicant
    region = text("region") or "DE-NI"
    if not REGION.match(region):
        problems.append(Problem("region", "region", region))
    out["region"] = region
    language = (text("language") or "de").lower()
    one_of("language", language, LANGUAGES)
    out["language"] = language
    for name in TEXT_FIELDS:
        out[name] = text(name)
    if out["contact_email"] and not EMAIL.match(out["contact_email"]):
        problems.append(Problem("contact_email", "email", out["contact_email"]))
    for name in LIST_FIELDS:
        values = _as_list(row.get(name))
        if values is None:
            problems.append(Problem(name, "not_a_list"))
            values = []
        out[name] = values
    out["partner_countries"] = [c.upper() for c in out["partner_countries"]]
    for name in INT_FIELDS:
        raw = row.get(name)
        out[name], problem = _number(name, raw)
        if problem:
            problems.append(problem)
    if out.get("lead_time_days") is None:
        out["lead_time_days"] = 28
    if (
        out.get("budget_min_eur") is not None
        and out.get("budget_max_eur") is not None
        and out["budget_min_eur"] > out["budget_max_eur"]
    ):
        problems.append(Problem("budget_max_eur", "budget_order"))
    for name in DATE_FIELDS:
        out[name], problem = _date(name, row.get(name))
        if problem:
            problems.append(problem)
    if out.get("start_date") and out.get("end_date") and out["start_date"] > out["end_date"]:
        problems.append(Problem("end_date", "date_order"))
    active = row.get("active", True)
    if isinstance(active, str):
        active = active.strip().lower() not in {"0", "false", "no", "nein", ""}
    out["active"] = bool(active)
    # A field that is wrong already is not also said to be too long.
    wrong = {problem.field for problem in problems}
    for name, limit in STRING_LIMITS.items():
        value = out.get(name)
        if isinstance(value, str) and len(value) > limit and name not in wrong:
            problems.append(Problem(name, "too_long", str(len(value)), str(limit)))
    return out, problems


def _validate_numbered(
    numbered: list[tuple[int, dict[str, Any]]], name: str, problems: list[Problem]
) -> list[dict[str, Any]]:
    # ``problems`` holds those of the file's shape already; the rows' are added, and all of
    # them are raised together, so a person fixes the file in one pass.
    problems = list(problems)
    cleaned: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    slugs: dict[int, str] = {}
    for number, row in numbered:
        values, found = validate_row(row)
        slug = values.get("slug") or ""
        slugs[number] = slug
        problems.extend(replace(problem, row=number, slug=slug) for problem in found)
        if slug:
            if slug in seen:
                problems.append(
                    Problem("slug", "duplicate", str(seen[slug]), row=number, slug=slug)
                )
            seen.setdefault(slug, number)
        cleaned.append(values)
    if not numbered:
        problems.append(Problem("", "empty"))
    if problems:
        # The whole file's problems first, then by row; a CSV row's own gets its slug.
        problems = sorted(
            (
                replace(p, slug=slugs.get(p.row, "")) if p.row is not None and not p.slug else p
                for p in problems
            ),
            key=lambda p: -1 if p.row is None else p.row,
        )
        raise ProfileFileError(name, problems)
    return cleaned


def validate_rows(rows: list[dict[str, Any]], name: str, first: int = 1) -> list[dict[str, Any]]:
    """All ``rows`` of the file ``name``, cleaned, numbered from ``first``; raises
    :class:`ProfileFileError` listing every problem."""
    return _validate_numbered(list(enumerate(rows, start=first)), name, [])


def validate_text(text: str, name: str) -> list[dict[str, Any]]:
    """All rows of a profile file's ``text``, cleaned; raises :class:`ProfileFileError`
    listing every problem, those of the file's shape and those of its rows."""
    numbered, problems = read_table(text, name, KNOWN_FIELDS)
    return _validate_numbered(numbered, name, problems)


def validate_file(path: Path) -> list[dict[str, Any]]:
    """All rows of ``path``, cleaned; raises :class:`ProfileFileError` listing every problem."""
    return validate_text(decode(path.read_bytes(), str(path)), str(path))


def validate_upload(filename: str, data: bytes) -> list[dict[str, Any]]:
    """:func:`validate_file` for a file that was sent rather than stored (a browser upload)."""
    return validate_text(decode(data, filename), filename)


def store_rows(session: Session, rows: list[dict[str, Any]]) -> ImportResult:
    """Create or update (by slug) the profiles of validated ``rows``."""
    result = ImportResult()
    existing = {
        p.slug: p
        for p in session.scalars(select(Profile).where(Profile.slug.in_([r["slug"] for r in rows])))
    }
    for values in rows:
        profile = existing.get(values["slug"])
        if profile is None:
            session.add(Profile(**values))
            result.created.append(values["slug"])
        else:
            for key, value in values.items():
                setattr(profile, key, value)
            result.updated.append(values["slug"])
    session.flush()
    return result


def import_profiles(session: Session, path: Path) -> ImportResult:
    """Validate ``path`` and create or update its profiles (by slug) in ``session``.

    Raises :class:`ProfileFileError` before touching the database if any row is invalid.
    """
    return store_rows(session, validate_file(path))


def import_upload(
    session: Session, filename: str, data: bytes, *, requested_by_id: int | None = None
) -> ImportResult:
    """What ``foerderdesk profiles import`` does, for an uploaded file: every row or none
    (:class:`ProfileFileError` before any change), then a re-rank queued for each profile
    (where the command line re-matches at once)."""
    result = store_rows(session, validate_upload(filename, data))
    slugs = result.created + result.updated
    for profile in session.scalars(select(Profile).where(Profile.slug.in_(slugs))):
        if profile.active:
            enqueue_rematch(
                session, profile.id, reason="profiles imported", requested_by_id=requested_by_id
            )
    return result
