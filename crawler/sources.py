"""The sources file (``crawler/sources.yaml``): every source foerderdesk crawls.

Changing it needs no code: each entry names a spider and passes it its settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from storage.config import Settings
from storage.models import FUNDER_TYPES

DEFAULT_SOURCES_FILE = Path(__file__).with_name("sources.yaml")


class SourcesFileError(ValueError):
    """The sources file cannot be used; the message says which entry and why."""


@dataclass(frozen=True)
class SourceEntry:
    """One source as the sources file lists it."""

    slug: str
    spider: str
    name: str
    funder_type: str = "other"
    language: str = "de"
    schedule: str = "0 3 * * *"
    enabled: bool = True
    settings: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The entry as a plain mapping (what :func:`storage.calls.sync_source` takes)."""
        return {
            "slug": self.slug,
            "spider": self.spider,
            "name": self.name,
            "funder_type": self.funder_type,
            "language": self.language,
            "schedule": self.schedule,
            "enabled": self.enabled,
            "settings": dict(self.settings),
        }


def sources_path(settings: Settings | None = None) -> Path:
    """The sources file in use: ``FOERDERDESK_SOURCES_FILE`` or the one shipped here."""
    if settings is not None and settings.sources_file:
        return Path(settings.sources_file)
    return DEFAULT_SOURCES_FILE


def load_sources(path: Path | None = None) -> list[SourceEntry]:
    """Every entry of the sources file, validated; raises :class:`SourcesFileError`."""
    path = path or DEFAULT_SOURCES_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SourcesFileError(f"{path}: {exc}") from exc
    entries: list[SourceEntry] = []
    seen: set[str] = set()
    for position, raw in enumerate(data.get("sources") or [], start=1):
        if not isinstance(raw, dict) or not raw.get("slug"):
            raise SourcesFileError(f"{path}: entry {position} has no slug")
        slug = str(raw["slug"])
        if slug in seen:
            raise SourcesFileError(f"{path}: slug {slug!r} is listed twice")
        seen.add(slug)
        funder_type = raw.get("funder_type", "other")
        if funder_type not in FUNDER_TYPES:
            raise SourcesFileError(
                f"{path}: {slug}: funder_type {funder_type!r} is not one of {FUNDER_TYPES}"
            )
        settings = raw.get("settings") or {}
        if not isinstance(settings, dict):
            raise SourcesFileError(f"{path}: {slug}: settings must be a mapping")
        entries.append(
            SourceEntry(
                slug=slug,
                spider=str(raw.get("spider") or slug),
                name=str(raw.get("name") or slug),
                funder_type=funder_type,
                language=str(raw.get("language", "de")),
                schedule=str(raw.get("schedule", "0 3 * * *")),
                enabled=bool(raw.get("enabled", True)),
                settings=settings,
            )
        )
    return entries


def find_source(slug: str, path: Path | None = None) -> SourceEntry:
    """The entry ``slug``; raises :class:`SourcesFileError` naming the known slugs."""
    entries = load_sources(path)
    for entry in entries:
        if entry.slug == slug:
            return entry
    known = ", ".join(e.slug for e in entries) or "none"
    raise SourcesFileError(f"unknown source {slug!r} (known: {known})")
