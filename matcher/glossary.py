"""The German–English glossary of the funding domain, and phrase tables built from it.

The glossary (``matcher/data/glossary_de_en.tsv``) is hand-written: one pair per line,
``German<TAB>English``; a German term with several English renderings has several lines.
Lines starting with ``#`` are comments. It is applied in both directions as query expansion:
a German project description gains the English terms of EU calls, an English one the German
terms of federal and foundation calls.

A :class:`PhraseTable` holds such pairs after text analysis (as stem sequences), so that
"Städtepartnerschaften" in a query finds the entry "Städtepartnerschaft" and German
compounds find entries for their parts ("Klimaschutzkonzept" → "Klimaschutz").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from matcher.analysis import Analyzer, tokenize

Terms = tuple[str, ...]


class GlossaryError(ValueError):
    """A glossary file that cannot be read; the message names the line."""


@dataclass(frozen=True)
class GlossaryEntry:
    """One German–English pair."""

    de: str
    en: str


def default_glossary_path() -> Path:
    """The glossary shipped with the matcher."""
    return Path(__file__).parent / "data" / "glossary_de_en.tsv"


def load_glossary(path: str | Path | None = None) -> list[GlossaryEntry]:
    """Read a glossary TSV (German, tab, English); raises GlossaryError on a malformed line."""
    source = Path(path) if path is not None else default_glossary_path()
    entries: list[GlossaryEntry] = []
    seen: set[tuple[str, str]] = set()
    for number, raw in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [part.strip() for part in line.split("\t")]
        if len(parts) != 2 or not parts[0] or not parts[1]:
            raise GlossaryError(f"{source.name}:{number}: expected 'German<TAB>English': {raw!r}")
        key = (parts[0].lower(), parts[1].lower())
        if key not in seen:
            seen.add(key)
            entries.append(GlossaryEntry(de=parts[0], en=parts[1]))
    return entries


class PhraseTable:
    """Source phrases (stem sequences) mapped to their target phrases (stem sequences).

    Built once per analyzer; :meth:`find` walks a query's terms and returns every phrase that
    occurs, longest match first, plus compound heads and tails for German words that are
    not themselves entries.
    """

    def __init__(self, mapping: dict[Terms, list[Terms]], *, compounds: bool = False) -> None:
        self.mapping = mapping
        self.compounds = compounds
        self.max_len = max((len(key) for key in mapping), default=1)
        self._single = {key[0] for key in mapping if len(key) == 1}
        self._min_part = 4

    @classmethod
    def from_pairs(
        cls,
        pairs: Iterable[tuple[str, str]],
        analyzer: Analyzer,
        source_language: str,
        target_language: str,
        *,
        compounds: bool = False,
    ) -> PhraseTable:
        """Analyse ``pairs`` of (source text, target text) into a table."""
        mapping: dict[Terms, list[Terms]] = {}
        for source, target in pairs:
            key = tuple(analyzer.terms(tokenize(source), source_language))
            value = tuple(analyzer.terms(tokenize(target), target_language))
            if not key or not value:
                continue
            alternatives = mapping.setdefault(key, [])
            if value not in alternatives:
                alternatives.append(value)
        return cls(mapping, compounds=compounds)

    def __len__(self) -> int:
        return len(self.mapping)

    def find(self, terms: Sequence[str]) -> list[tuple[Terms, list[Terms]]]:
        """Source phrases found in ``terms`` (with repeats) and their alternatives."""
        found: list[tuple[Terms, list[Terms]]] = []
        i = 0
        n = len(terms)
        while i < n:
            matched = 0
            for length in range(min(self.max_len, n - i), 0, -1):
                key = tuple(terms[i : i + length])
                alternatives = self.mapping.get(key)
                if alternatives is not None:
                    found.append((key, alternatives))
                    matched = length
                    break
            if matched:
                i += matched
                continue
            if self.compounds:
                found.extend(self._compound_parts(terms[i]))
            i += 1
        return found

    def _compound_parts(self, term: str) -> list[tuple[Terms, list[Terms]]]:
        """Entries that a German compound starts or ends with ("Klimaschutzkonzept")."""
        if len(term) < 2 * self._min_part:
            return []
        parts: list[tuple[Terms, list[Terms]]] = []
        # Head: the longest entry the compound starts with (a linking "s" may follow it).
        for cut in range(len(term) - self._min_part, self._min_part - 1, -1):
            head = term[:cut]
            if head in self._single:
                parts.append(((head,), self.mapping[(head,)]))
                break
        # Tail: the longest entry the compound ends with; the tail carries the meaning.
        for cut in range(self._min_part, len(term) - self._min_part + 1):
            tail = term[cut:]
            if tail in self._single:
                parts.append(((tail,), self.mapping[(tail,)]))
                break
        return parts


def glossary_tables(entries: Iterable[GlossaryEntry], analyzer: Analyzer) -> dict[str, PhraseTable]:
    """The glossary as two tables: "de" (German → English) and "en" (English → German)."""
    entries = list(entries)
    return {
        "de": PhraseTable.from_pairs(
            ((e.de, e.en) for e in entries), analyzer, "de", "en", compounds=True
        ),
        "en": PhraseTable.from_pairs(((e.en, e.de) for e in entries), analyzer, "en", "de"),
    }
