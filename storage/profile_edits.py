"""Profiles one at a time, as the desk's pages change them: create, edit, archive, list.

Values are validated exactly as an imported row is (``storage.profiles.validate_row``), so
a form and a file accept the same profiles; every problem is reported at once, by field.
A new, changed or restored profile gets a re-rank queued (``storage.work_queue``), never run
here. Functions take the session and never commit.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.matching import match_counts_by_profile
from storage.models import Profile
from storage.profiles import Problem, ProfileInvalid, validate_row
from storage.work_queue import enqueue_rematch, waiting_rematches

# What a person edits on a profile's page; the slug is its address and stays.
EDITABLE_FIELDS = (
    "name",
    "kind",
    "description",
    "themes",
    "keywords",
    "department",
    "legal_form",
    "applicant_type",
    "region",
    "language",
    "budget_min_eur",
    "budget_max_eur",
    "start_date",
    "end_date",
    "lead_time_days",
    "partner_countries",
    "contact_email",
)
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


@dataclass(frozen=True)
class ProfileRow:
    """A profile as the list of profiles shows it."""

    profile: Profile
    matches: int
    reranking: bool  # a re-rank is queued or running


def get_profile(session: Session, slug: str) -> Profile | None:
    """The profile with ``slug`` (archived ones too), or None."""
    return session.scalar(select(Profile).where(Profile.slug == slug))


def profile_rows(session: Session, *, archived: bool = False) -> list[ProfileRow]:
    """The active profiles (and the archived ones after them when ``archived``), projects
    first, by name, with their match counts and whether a re-rank is waiting."""
    stmt = select(Profile).order_by(Profile.active.desc(), Profile.kind.desc(), Profile.name)
    if not archived:
        stmt = stmt.where(Profile.active)
    profiles = list(session.scalars(stmt))
    counts = match_counts_by_profile(session)
    waiting = waiting_rematches(session, [p.id for p in profiles])
    return [ProfileRow(p, counts.get(p.id, 0), p.id in waiting) for p in profiles]


def profile_values(profile: Profile) -> dict[str, Any]:
    """The editable values of ``profile``, as :func:`save_profile` takes them."""
    return {name: getattr(profile, name) for name in EDITABLE_FIELDS}


def new_slug(session: Session, name: str) -> str:
    """A free slug made from ``name``: "Brücke e. V." → "bruecke-e-v" (then "-2", "-3", …)."""
    folded = name.lower().translate(_UMLAUTS)
    ascii_only = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode()
    base = _NOT_SLUG.sub("-", ascii_only).strip("-")[:90].strip("-")
    if len(base) < 2:
        base = f"profil-{base}".strip("-")
    taken = set(session.scalars(select(Profile.slug).where(Profile.slug.like(f"{base}%"))))
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def save_profile(
    session: Session,
    values: Mapping[str, Any],
    profile: Profile | None = None,
    *,
    requested_by_id: int | None = None,
) -> Profile:
    """Create a profile from ``values`` (``profile`` None) or change ``profile``; validated as
    an imported row is, raising :class:`ProfileInvalid` with every problem. A new or changed
    active profile gets a re-rank queued. The caller commits.

    A new profile's slug is ``values["slug"]`` or made from its name; an edit keeps the slug
    and whether the profile is archived.
    """
    row = {name: values[name] for name in EDITABLE_FIELDS if name in values}
    made_up = False
    if profile is None:
        slug = str(values.get("slug") or "").strip()
        if not slug:
            slug, made_up = new_slug(session, str(values.get("name") or "")), True
        row.update(slug=slug, active=True)
    else:
        row.update(slug=profile.slug, active=profile.active)
    cleaned, problems = validate_row(row)
    if made_up or profile is not None:
        # A made-up slug's problem is one with the name (reported there); a stored one stays.
        problems = [p for p in problems if p.field != "slug"]
    elif get_profile(session, cleaned["slug"]) is not None:
        problems.append(Problem("slug", "slug_taken", cleaned["slug"]))
    if problems:
        raise ProfileInvalid(problems)

    if profile is None:
        profile = Profile(**cleaned)
        session.add(profile)
        changed = True
    else:
        changed = any(getattr(profile, key) != value for key, value in cleaned.items())
        for key, value in cleaned.items():
            setattr(profile, key, value)
    session.flush()
    if changed and profile.active:
        enqueue_rematch(
            session, profile.id, reason="profile edited", requested_by_id=requested_by_id
        )
    return profile


def set_archived(
    session: Session, profile: Profile, archived: bool, *, requested_by_id: int | None = None
) -> bool:
    """Archive ``profile`` (it is no longer matched and its matches are not shown) or bring it
    back (a re-rank is queued); whether anything changed."""
    if profile.active == (not archived):
        return False
    profile.active = not archived
    session.flush()
    if not archived:
        enqueue_rematch(
            session, profile.id, reason="profile edited", requested_by_id=requested_by_id
        )
    return True
