"""Reading, validating and importing profiles (city projects and partner organisations).

A file is imported whole or not at all: every row is validated first, and each error names
the row and the field, so a person can fix the file in one pass.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path, PurePath
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import APPLICANT_TYPES, LANGUAGES, PROFILE_KINDS, Profile
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
KNOWN_FIELDS = {
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


# What each problem says in English (the command line's words); the web pages translate the
# codes. ``{value}`` is what the row holds, ``{allowed}`` the values that would be accepted.
PROBLEM_TEXTS = {
    "unknown_field": "unknown field",
    "required": "is required",
    "slug_format": "{value!r} must be lower-case letters, digits and hyphens",
    "slug_taken": "{value!r} is already the slug of another profile",
    "not_one_of": "{value!r} is not one of {allowed}",
    "too_short": "is too short to match on (at least 40 characters)",
    "region": "{value!r} is not a region code such as DE-NI, DE or EU",
    "email": "{value!r} is not an email address",
    "not_a_list": "must be a list of words or a ';'-separated text",
    "not_a_number": "{value!r} is not a whole number",
    "negative": "{value} must not be negative",
    "budget_order": "is smaller than budget_min_eur",
    "not_a_date": "{value!r} is not a date like 2027-03-31",
    "date_order": "is before start_date",
    "duplicate": "duplicate of row {value}",
    # Problems of the whole file (no field).
    "not_yaml": "not valid YAML: {value}",
    "not_a_profile_list": "expected a list of profiles (or a mapping with key 'profiles')",
    "no_header": "the CSV file has no header row",
    "file_type": "unknown file type {value!r}: use .yaml, .yml or .csv",
    "not_utf8": "the file is not UTF-8 text",
    "empty": "the file holds no profiles",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a profile: in which row (None: the whole file or a form), which
    field ("" for the whole file), what (a code of :data:`PROBLEM_TEXTS`) and the value."""

    field: str
    code: str
    value: str = ""
    allowed: str = ""
    row: int | None = None
    slug: str = ""

    @property
    def text(self) -> str:
        """The problem in English, without row and field."""
        return PROBLEM_TEXTS[self.code].format(value=self.value, allowed=self.allowed)

    def describe(self) -> str:
        """The problem as the command line prints it: "row 2 (klima), field 'kind': …"."""
        if self.row is None:
            return f"field '{self.field}': {self.text}" if self.field else self.text
        label = f"row {self.row}" + (f" ({self.slug})" if self.slug else "")
        return f"{label}, field '{self.field}': {self.text}" if self.field else self.text


class ProfileFileError(ValueError):
    """A profile file that cannot be imported; ``problems`` lists every problem found and
    ``errors`` says each in English."""

    def __init__(self, path: str, problems: list[Problem]):
        self.path = path
        self.problems = problems
        self.errors = [problem.describe() for problem in problems]
        super().__init__(
            f"{path}: {len(problems)} error(s), nothing imported:\n" + "\n".join(self.errors)
        )


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
    suffix = PurePath(name).suffix.lower()
    if suffix in {".yaml", ".yml"}:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ProfileFileError(name, [Problem("", "not_yaml", str(exc))]) from None
        if isinstance(data, dict) and "profiles" in data:
            data = data["profiles"]
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise ProfileFileError(name, [Problem("", "not_a_profile_list")])
        return data
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames:
            raise ProfileFileError(name, [Problem("", "no_header")])
        return [{k.strip(): v for k, v in row.items() if k} for row in reader]
    raise ProfileFileError(name, [Problem("", "file_type", suffix)])


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a YAML or CSV profile file, as dictionaries (not yet validated)."""
    return parse_rows(path.read_text(encoding="utf-8-sig"), str(path))


def _as_list(value: Any) -> list[str] | None:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[;\n]", value) if part.strip()]
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return [str(v).strip() for v in value if str(v).strip()]
    return None


def validate_row(row: dict[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Clean one row; return the values and the problems found (without a row number)."""
    problems: list[Problem] = []
    out: dict[str, Any] = {}
    for key in sorted(set(row) - KNOWN_FIELDS):
        problems.append(Problem(key, "unknown_field"))

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
        if raw is None or raw == "":
            out[name] = None
            continue
        try:
            number = int(str(raw).replace("_", "").replace(" ", ""))
        except ValueError:
            problems.append(Problem(name, "not_a_number", str(raw)))
            continue
        if number < 0:
            problems.append(Problem(name, "negative", str(number)))
        out[name] = number
    if out.get("lead_time_days") is None:
        out["lead_time_days"] = 28
    if (
        out.get("budget_min_eur") is not None
        and out.get("budget_max_eur") is not None
        and out["budget_min_eur"] > out["budget_max_eur"]
    ):
        problems.append(Problem("budget_max_eur", "budget_order"))
    for name in DATE_FIELDS:
        raw = row.get(name)
        if raw is None or raw == "":
            out[name] = None
        elif isinstance(raw, date):
            out[name] = raw
        else:
            try:
                out[name] = date.fromisoformat(str(raw).strip())
            except ValueError:
                problems.append(Problem(name, "not_a_date", str(raw)))
    if out.get("start_date") and out.get("end_date") and out["start_date"] > out["end_date"]:
        problems.append(Problem("end_date", "date_order"))
    active = row.get("active", True)
    if isinstance(active, str):
        active = active.strip().lower() not in {"0", "false", "no", "nein", ""}
    out["active"] = bool(active)
    return out, problems


def validate_rows(rows: list[dict[str, Any]], name: str, first: int = 1) -> list[dict[str, Any]]:
    """All ``rows`` of the file ``name``, cleaned, numbered from ``first``; raises
    :class:`ProfileFileError` listing every problem."""
    problems: list[Problem] = []
    cleaned: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=first):
        values, found = validate_row(row)
        slug = values.get("slug") or ""
        problems.extend(replace(problem, row=number, slug=slug) for problem in found)
        if slug:
            if slug in seen:
                problems.append(
                    Problem("slug", "duplicate", str(seen[slug]), row=number, slug=slug)
                )
            seen.setdefault(slug, number)
        cleaned.append(values)
    if not rows:
        problems.append(Problem("", "empty"))
    if problems:
        raise ProfileFileError(name, problems)
    return cleaned


def _first_row(name: str) -> int:
    # Rows are numbered as a person sees them: the CSV header is line 1, so data starts at 2.
    return 2 if PurePath(name).suffix.lower() == ".csv" else 1


def validate_file(path: Path) -> list[dict[str, Any]]:
    """All rows of ``path``, cleaned; raises :class:`ProfileFileError` listing every problem."""
    return validate_rows(read_rows(path), str(path), _first_row(str(path)))


def validate_upload(filename: str, data: bytes) -> list[dict[str, Any]]:
    """:func:`validate_file` for a file that was sent rather than stored (a browser upload)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ProfileFileError(filename, [Problem("", "not_utf8")]) from None
    return validate_rows(parse_rows(text, filename), filename, _first_row(filename))


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
