"""Where a profile's expansion across languages reached a call's word, and from which words.

An explanation reads "Städtepartnerschaft ↔ town twinning": the call's word, and the
profile's own word the glossary or the dictionary carried to it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from matcher.analysis import token_spans
from matcher.documents import FIELDS, Document
from matcher.glossary import Terms


@dataclass(frozen=True)
class Bridge:
    """Where a query's expansion across languages took a column from: of several sources,
    the heaviest (a source phrase's weight, a cognate's share)."""

    weight: float
    stems: Terms  # the query's source phrase as terms ("stadtepartnerschaft",)
    stem_language: str | None  # the query's language; None: ``stems`` is a folded token
    language: str  # the language of the query's words ("de" for a German source)


def note_bridge(bridges: dict[int, Bridge], col: int, bridge: Bridge) -> None:
    known = bridges.get(col)
    if known is None or bridge.weight > known.weight:
        bridges[col] = bridge


# A query's words as its analysis kept them: per field its folded tokens and their stem
# ids (-1 for a stop word).
QueryWords = tuple[list[list[str]], list[list[int]]]


@dataclass
class QueryBridges:
    """The queries :meth:`TextModel.transform_queries` read last (its rows): per query its
    words, and the columns only its expansion across languages reached, with their sources
    (for explanations: :func:`matcher.terms.bridge_words`)."""

    docs: Sequence[Document]
    words: list[QueryWords]
    columns: list[dict[int, Bridge]]

    def __len__(self) -> int:
        return len(self.columns)


class SourceWords:
    """Finds the words of one query that a bridge's source stands for, as written.

    Uses the query's tokens and stem ids as its analysis kept them (no stemming again);
    a field's text is read again only where a source's words were found in it.
    """

    def __init__(self, doc: Document, words: QueryWords, stems: list[str]) -> None:
        self.texts = [getattr(doc, name) or "" for name in FIELDS]
        self.tokens, self.ids = words
        self.stems = stems
        self._joined: list[str] | None = None
        self._spans: dict[int, list[tuple[int, int]]] = {}  # per field read so far

    def find(self, bridge: Bridge, stem_ids: Mapping[str, int]) -> str | None:
        """The words ``bridge`` came from: its token (a cognate); its one term, else a
        compound starting or ending with it ("Klimaschutzkonzept" for "klimaschutz"); or
        its phrase's terms in a row (stop words between them left in)."""
        key = bridge.stems
        if bridge.stem_language is None:
            for f, tokens in enumerate(self.tokens):
                if key[0] in tokens:
                    return self._written([(f, tokens.index(key[0]))])
            return None
        ids = [stem_ids.get(term, -2) for term in key]
        if len(key) > 1:
            return self._phrase(ids)
        if ids[0] >= 0:
            for f, field_ids in enumerate(self.ids):
                if ids[0] in field_ids:
                    return self._written([(f, field_ids.index(ids[0]))])
        joined = self._joined_stems()
        for pattern in (f"\0{key[0]}", f"{key[0]}\0"):
            for f, text in enumerate(joined):
                at = text.find(pattern)
                if at >= 0:  # in the stem after the n-th NUL up to here: token n - 1
                    return self._written([(f, text.count("\0", 0, at + 1) - 1)])
        return None

    def _joined_stems(self) -> list[str]:
        """Per field its stems joined by NUL (a stop word empty), for a search in C."""
        if self._joined is None:
            stems = self.stems
            self._joined = [
                "\0" + "\0".join(stems[i] if i >= 0 else "" for i in ids) + "\0" for ids in self.ids
            ]
        return self._joined

    def _phrase(self, key: list[int]) -> str | None:
        row = [(i, (f, k)) for f, ids in enumerate(self.ids) for k, i in enumerate(ids) if i >= 0]
        terms = [i for i, _ in row]
        for at, term in enumerate(terms):
            if term == key[0] and terms[at : at + len(key)] == key:
                return self._written([place for _, place in row[at : at + len(key)]])
        return None

    def _span(self, f: int, k: int) -> tuple[int, int] | None:
        """Where field ``f`` writes its token ``k``."""
        spans = self._spans.get(f)
        if spans is None:
            spans = self._spans[f] = token_spans(self.texts[f], len(self.tokens[f]))
        return spans[k] if k < len(spans) else None

    def _written(self, run: list[tuple[int, int]]) -> str | None:
        """Consecutive words as the query writes them ("Klimaschutz in Kommunen"), or
        joined by spaces where punctuation or another field comes between them."""
        found = [span for f, k in run if (span := self._span(f, k)) is not None]
        if len(found) < len(run):
            return None
        first_field, last_field = run[0][0], run[-1][0]
        if len(run) > 1 and first_field == last_field:
            text = self.texts[first_field][found[0][0] : found[-1][1]]
            if not _PHRASE_BREAK.search(text):
                return " ".join(text.split())
        return " ".join(self.texts[f][a:b] for (f, _), (a, b) in zip(run, found, strict=True))


_PHRASE_BREAK = re.compile(r"[.,;:!?()\[\]\n]")
