"""Small builders for stored rows, shared by tests of every package."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count
from typing import Any

from sqlalchemy.orm import Session

from storage.models import CallDeadline, FundingCall, Profile, Source

_ids = count(1)


def make_source(session: Session, slug: str = "test_source", **values: Any) -> Source:
    """A source row (reused if one with ``slug`` is already in the session)."""
    existing = session.query(Source).filter_by(slug=slug).one_or_none()
    if existing is not None:
        return existing
    source = Source(
        slug=slug, name=values.pop("name", slug), spider=values.pop("spider", slug), **values
    )
    session.add(source)
    session.flush()
    return source


def make_call(
    session: Session,
    *,
    deadlines: list[datetime] | None = None,
    source: str = "test_source",
    **values: Any,
) -> FundingCall:
    """A stored call with the given deadlines (aware datetimes) and any other fields."""
    make_source(session, source)
    n = next(_ids)
    values.setdefault("source_id", f"CALL-{n}")
    values.setdefault("title", f"Call {n}")
    values.setdefault("url", f"https://example.org/calls/{n}")
    call = FundingCall(source=source, **values)
    for i, due in enumerate(sorted(deadlines or []), start=1):
        call.deadlines.append(CallDeadline(due_at=due, stage=str(i)))
    if deadlines and "next_deadline_at" not in values:
        now = datetime.now(UTC)
        ahead = [d for d in sorted(deadlines) if d >= now]
        call.next_deadline_at = ahead[0] if ahead else max(deadlines)
    session.add(call)
    session.flush()
    return call


def make_profile(session: Session, slug: str = "profil", **values: Any) -> Profile:
    """A stored profile with sensible defaults."""
    values.setdefault("kind", "project")
    values.setdefault("name", slug)
    values.setdefault("description", "Ein Projekt der Stadt Hannover zum Klimaschutz.")
    values.setdefault("applicant_type", "municipality")
    profile = Profile(slug=slug, **values)
    session.add(profile)
    session.flush()
    return profile
