"""Calls after analysis and after counting: what a fit needs from the texts, and no more.

A :class:`CorpusAnalysis` holds each call's stem ids per field; :class:`CallCounts` the fitted
vocabulary and each call's field-weighted term frequencies.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from matcher.documents import FIELDS
from matcher.written import Noted, WrittenTokens, written_words

# A document after analysis: its language, its terms per field, and all its folded tokens.
AnalysedTerms = tuple[str, dict[str, list[str]], list[str]]

# No stem-pair table: ``count_rows`` then counts single stems only.
NO_PAIR_TABLE = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32))


def segments_of(batch: Batch) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray]:
    """A batch as the kernels read it: stem ids per field, and where each document's ids
    of each field start and stop in them (documents × fields)."""
    ids = tuple(np.ascontiguousarray(batch.ids[name], dtype=np.int32) for name in FIELDS)
    n_docs = len(batch.languages)
    starts = np.empty((n_docs, len(FIELDS)), dtype=np.int64)
    stops = np.empty((n_docs, len(FIELDS)), dtype=np.int64)
    for f, name in enumerate(FIELDS):
        ends = np.cumsum(np.asarray(batch.lengths[name], dtype=np.int64))
        stops[:, f] = ends
        starts[:, f] = ends - np.asarray(batch.lengths[name], dtype=np.int64)
    return ids, starts, stops


def count_room(batch: Batch) -> int:
    """Entries that :func:`matcher.kernels.counting.count_rows` may write for a batch: a column per
    stem and per stem pair, at most two per token."""
    return 2 * sum(len(batch.ids[name]) for name in FIELDS)


@dataclass
class Batch:
    """Analysed documents: language and stem ids per field (flat, with lengths per doc)."""

    languages: list[str]
    ids: dict[str, list[int]]
    lengths: dict[str, list[int]]
    docs: list[dict[str, list[int]]] | None = None  # per document, for queries
    tokens: list[list[str]] | None = None
    written: dict[str, Noted] | None = None  # per folded word, as written (WrittenTokens)
    # Per document (kept): per field its folded tokens and their stem ids (-1: stop word).
    words: list[tuple[list[list[str]], list[list[int]]]] | None = None


@dataclass
class ChunkTokens:
    """One chunk of documents as tokens: each token's text and stem id (or -1).

    Text ``s`` of the chunk is field ``s % len(FIELDS)`` of document ``s // len(FIELDS)``.
    """

    tokens: WrittenTokens
    languages: list[str]
    stem_ids: np.ndarray

    @property
    def docs_of(self) -> np.ndarray:
        """Each token's document in the chunk."""
        return self.tokens.segments // len(FIELDS)


@dataclass
class CorpusAnalysis:
    """Calls after analysis: language and stem ids per field, and the stems those ids name.

    This is what fitting needs from the texts, and all of it.
    """

    stems: list[str]
    languages: list[str]
    ids: dict[str, np.ndarray]  # per field: int32 stem ids of every call, in call order
    lengths: dict[str, np.ndarray]  # per field: int32 number of ids of each call
    # Each folded word as the calls write it (see WrittenTokens); None where not known.
    written: dict[str, str] | None = None

    def __len__(self) -> int:
        return len(self.languages)

    @classmethod
    def from_batches(cls, stems: list[str], batches: Sequence[Batch]) -> CorpusAnalysis:
        """One analysis from analysed chunks numbered with ``stems``."""
        return cls(
            list(stems),
            [lang for batch in batches for lang in batch.languages],
            {n: concat_ids([np.asarray(b.ids[n], np.int32) for b in batches]) for n in FIELDS},
            {n: concat_ids([np.asarray(b.lengths[n], np.int32) for b in batches]) for n in FIELDS},
            written=written_words([b.written for b in batches]),
        )

    def batches(self, size: int) -> Iterator[Batch]:
        """The analysis in chunks of ``size`` calls."""
        offsets = {}
        for name in FIELDS:
            offsets[name] = np.zeros(len(self) + 1, dtype=np.int64)
            np.cumsum(self.lengths[name], out=offsets[name][1:])
        for begin in range(0, len(self), size):
            stop = min(begin + size, len(self))
            yield Batch(
                self.languages[begin:stop],
                {n: self.ids[n][offsets[n][begin] : offsets[n][stop]] for n in FIELDS},
                {n: self.lengths[n][begin:stop] for n in FIELDS},
            )


@dataclass
class CallCounts:
    """The fitted call side: a vocabulary and every call's field-weighted tf over it.

    Columns are ``stems`` then the stem bigrams ``bigram_codes`` (``first * len(stems) +
    second``, sorted).
    """

    stems: list[str]
    bigram_codes: np.ndarray
    counts: sp.csr_matrix  # calls x columns, float32
    german: np.ndarray  # per call: analysed as German (the IDF reference is English)


def concat_ids(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int32)
