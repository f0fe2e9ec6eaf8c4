"""Reading, validating and importing profiles (city projects and partner organisations).

A file is imported whole or not at all: every row is validated first, and each error names
the row and the field, so a person can fix the file in one pass.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import APPLICANT_TYPES, LANGUAGES, PROFILE_KINDS, Profile

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


class ProfileFileError(ValueError):
    """A profile file that cannot be imported; ``errors`` lists every problem found."""

    def __init__(self, path: str, errors: list[str]):
        self.path = path
        self.errors = errors
        super().__init__(f"{path}: {len(errors)} error(s), nothing imported:\n" + "\n".join(errors))


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a YAML or CSV profile file, as dictionaries (not yet validated)."""
    text = path.read_text(encoding="utf-8-sig")
    suffix = path.suffix.lower()
    if suffix in {".yaml", ".yml"}:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ProfileFileError(str(path), [f"not valid YAML: {exc}"]) from None
        if isinstance(data, dict) and "profiles" in data:
            data = data["profiles"]
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise ProfileFileError(
                str(path), ["expected a list of profiles (or a mapping with key 'profiles')"]
            )
        return data
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames:
            raise ProfileFileError(str(path), ["the CSV file has no header row"])
        return [{k.strip(): v for k, v in row.items() if k} for row in reader]
    raise ProfileFileError(str(path), [f"unknown file type {suffix!r}: use .yaml, .yml or .csv"])


def _as_list(value: Any) -> list[str] | None:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[;\n]", value) if part.strip()]
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return [str(v).strip() for v in value if str(v).strip()]
    return None


def validate_row(row: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Clean one row; return the values and a list of (field, problem)."""
    problems: list[tuple[str, str]] = []
    out: dict[str, Any] = {}
    for key in sorted(set(row) - KNOWN_FIELDS):
        problems.append((key, "unknown field"))

    def text(name: str, required: bool = False) -> str:
        value = row.get(name)
        value = "" if value is None else str(value).strip()
        if required and not value:
            problems.append((name, "is required"))
        return value

    slug = text("slug", required=True)
    if slug and not SLUG.match(slug):
        problems.append(("slug", f"{slug!r} must be lower-case letters, digits and hyphens"))
    out["slug"] = slug
    kind = text("kind", required=True).lower()
    if kind and kind not in PROFILE_KINDS:
        problems.append(("kind", f"{kind!r} is not one of {', '.join(PROFILE_KINDS)}"))
    out["kind"] = kind
    out["name"] = text("name", required=True)
    description = text("description", required=True)
    if description and len(description) < 40:
        problems.append(("description", "is too short to match on (at least 40 characters)"))
    out["description"] = description
    applicant = text("applicant_type", required=True)
    applicant = APPLICANT_ALIASES.get(applicant.lower(), applicant.lower())
    if applicant and applicant not in APPLICANT_TYPES:
        problems.append(
            (
                "applicant_type",
                f"{row.get('applicant_type')!r} is not one of {', '.join(APPLICANT_TYPES)}",
            )
        )
    out["applicant_type"] = applicant
    region = text("region") or "DE-NI"
    if not REGION.match(region):
        problems.append(("region", f"{region!r} is not a region code such as DE-NI, DE or EU"))
    out["region"] = region
    language = (text("language") or "de").lower()
    if language not in LANGUAGES:
        problems.append(("language", f"{language!r} is not one of {', '.join(LANGUAGES)}"))
    out["language"] = language
    for name in TEXT_FIELDS:
        out[name] = text(name)
    if out["contact_email"] and not EMAIL.match(out["contact_email"]):
        problems.append(("contact_email", f"{out['contact_email']!r} is not an email address"))
    for name in LIST_FIELDS:
        values = _as_list(row.get(name))
        if values is None:
            problems.append((name, "must be a list of words or a ';'-separated text"))
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
            problems.append((name, f"{raw!r} is not a whole number"))
            continue
        if number < 0:
            problems.append((name, f"{number} must not be negative"))
        out[name] = number
    if out.get("lead_time_days") is None:
        out["lead_time_days"] = 28
    if (
        out.get("budget_min_eur") is not None
        and out.get("budget_max_eur") is not None
        and out["budget_min_eur"] > out["budget_max_eur"]
    ):
        problems.append(("budget_max_eur", "is smaller than budget_min_eur"))
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
                problems.append((name, f"{raw!r} is not a date like 2027-03-31"))
    if out.get("start_date") and out.get("end_date") and out["start_date"] > out["end_date"]:
        problems.append(("end_date", "is before start_date"))
    active = row.get("active", True)
    if isinstance(active, str):
        active = active.strip().lower() not in {"0", "false", "no", "nein", ""}
    out["active"] = bool(active)
    return out, problems


def validate_file(path: Path) -> list[dict[str, Any]]:
    """All rows of ``path``, cleaned; raises :class:`ProfileFileError` listing every problem."""
    rows = read_rows(path)
    errors: list[str] = []
    cleaned: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    # Rows are numbered as a person sees them: the CSV header is line 1, so data starts at 2.
    first = 2 if path.suffix.lower() == ".csv" else 1
    for number, row in enumerate(rows, start=first):
        values, problems = validate_row(row)
        label = f"row {number}" + (f" ({values['slug']})" if values.get("slug") else "")
        errors.extend(f"{label}, field '{name}': {problem}" for name, problem in problems)
        slug = values.get("slug")
        if slug:
            if slug in seen:
                errors.append(f"{label}, field 'slug': duplicate of row {seen[slug]}")
            seen.setdefault(slug, number)
        cleaned.append(values)
    if not rows:
        errors.append("the file holds no profiles")
    if errors:
        raise ProfileFileError(str(path), errors)
    return cleaned


def import_profiles(session: Session, path: Path) -> ImportResult:
    """Validate ``path`` and create or update its profiles (by slug) in ``session``.

    Raises :class:`ProfileFileError` before touching the database if any row is invalid.
    """
    rows = validate_file(path)
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
