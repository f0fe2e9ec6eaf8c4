"""The texts the matcher reads: a call or a profile as fields."""

from __future__ import annotations

from dataclasses import dataclass

FIELDS = ("title", "summary", "description", "keywords")


@dataclass(frozen=True)
class Document:
    """The text of a call or of a profile, by field."""

    title: str = ""
    summary: str = ""
    description: str = ""
    keywords: str = ""  # space or comma separated
    language: str = ""  # "de", "en" or "" (unknown: guessed from the text)
