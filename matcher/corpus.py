"""Calls after analysis and after counting: what a fit needs from the texts, and no more.

A :class:`CorpusAnalysis` holds each call's stem ids per field; :class:`CallCounts` the fitted
vocabulary and each call's field-weighted term frequencies. Both depend on each call's own
text only, so a cache (:mod:`matcher.cache`) keeps them per call and a re-match recounts only
the calls that changed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from matcher.documents import FIELDS
from matcher.kernels.counting import column_counts, renumber
from matcher.kernels.tokens import best_variants
from matcher.lexicon import UNNAMED
from matcher.written import Noted, WrittenTokens, noted_forms, written_words

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
    variants: dict[str, np.ndarray] | None = None  # per field: each id's surface word
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
    variants: np.ndarray  # which surface word of its stem each token is (Lexicon.words)

    @property
    def docs_of(self) -> np.ndarray:
        """Each token's document in the chunk."""
        return self.tokens.segments // len(FIELDS)


def used_stems_only(analysis: CorpusAnalysis) -> CorpusAnalysis:
    """The analysis renumbered to the stems its calls use (a cache may hold stale ones)."""
    used = np.zeros(len(analysis.stems), dtype=bool)
    for name in FIELDS:
        used[analysis.ids[name]] = True
    if used.all():
        return analysis
    remap = np.cumsum(used, dtype=np.int32) - 1
    return CorpusAnalysis(
        [stem for stem, keep in zip(analysis.stems, used.tolist(), strict=True) if keep],
        analysis.languages,
        {n: remap[analysis.ids[n]] for n in FIELDS},
        analysis.lengths,
        analysis.forms,
    )


def merge_words(
    words: list[list[str]], remap: np.ndarray, their_words: list[list[str]]
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Add another table's surface words (stem ``i`` there is stem ``remap[i]`` here) to
    ``words``; returns the function renumbering that table's (stem ids, variants) here."""
    words.extend([] for _ in range(len(remap) and int(remap.max()) + 1 - len(words)))
    offsets = np.zeros(len(their_words) + 1, dtype=np.int64)
    np.cumsum([len(seen) for seen in their_words], out=offsets[1:])
    table = np.full(int(offsets[-1]) + 1, UNNAMED, dtype=np.uint8)
    for i, seen in enumerate(their_words):
        mine = words[int(remap[i])]
        number = {word: v for v, word in enumerate(mine)}
        for v, word in enumerate(seen):
            if word not in number and len(mine) < UNNAMED:
                number[word] = len(mine)
                mine.append(word)
            table[offsets[i] + v] = number.get(word, UNNAMED)

    def renumber(ids: np.ndarray, variants: np.ndarray) -> np.ndarray:
        # UNNAMED stays UNNAMED: it indexes past the stem's words, into the padding.
        at = offsets[ids] + variants
        return table[np.where(variants == UNNAMED, len(table) - 1, at)]

    return renumber


@dataclass
class CorpusAnalysis:
    """Calls after analysis: language and stem ids per field, and the stems those ids name.

    This is what fitting needs from the texts, and all of it: a re-match can keep it per
    call (see :mod:`matcher.cache`) and analyse only the calls whose text changed.
    """

    stems: list[str]
    languages: list[str]
    ids: dict[str, np.ndarray]  # per field: int32 stem ids of every call, in call order
    lengths: dict[str, np.ndarray]  # per field: int32 number of ids of each call
    # Surface words seen per stem (for readable explanations), from the analysing process.
    forms: dict[str, dict[str, int]] = field(default_factory=dict)
    # Per call, its content_hash (S16), when the analysis was asked to hash the texts it read.
    hashes: np.ndarray | None = None
    # Per field, beside ``ids``: which surface word of its stem each token is (uint8), and
    # per stem its surface words by that number (matcher.lexicon.Lexicon.words), so the
    # words of a call can be named without reading its text again (:meth:`analysed_surface_words`).
    # None where the analysis does not have them (read from an older cache file).
    variants: dict[str, np.ndarray] | None = None
    words: list[list[str]] | None = None
    # Each folded word as the calls write it (see WrittenTokens); None where not known.
    written: dict[str, str] | None = None

    def __len__(self) -> int:
        return len(self.languages)

    @classmethod
    def from_batches(cls, stems: list[str], batches: Sequence[Batch]) -> CorpusAnalysis:
        """One analysis from analysed chunks numbered with ``stems``."""
        variants = None
        if batches and all(b.variants is not None for b in batches):
            variants = {
                n: np.concatenate([b.variants[n] for b in batches])  # type: ignore[index]
                for n in FIELDS
            }
        return cls(
            list(stems),
            [lang for batch in batches for lang in batch.languages],
            {n: concat_ids([np.asarray(b.ids[n], np.int32) for b in batches]) for n in FIELDS},
            {n: concat_ids([np.asarray(b.lengths[n], np.int32) for b in batches]) for n in FIELDS},
            variants=variants,
            written=written_words([b.written for b in batches]),
        )

    @classmethod
    def concat(cls, parts: Sequence[CorpusAnalysis]) -> CorpusAnalysis:
        """The calls of ``parts`` in order, renumbered into one stem table."""
        index: dict[str, int] = {}
        ids: dict[str, list[np.ndarray]] = {n: [] for n in FIELDS}
        for part in parts:
            remap = np.array(
                [index.setdefault(stem, len(index)) for stem in part.stems], dtype=np.int32
            )
            for name in FIELDS:
                ids[name].append(remap[part.ids[name]] if len(remap) else part.ids[name])
        forms: dict[str, dict[str, int]] = {}
        for part in parts:
            for stem, seen in part.forms.items():
                merged = forms.setdefault(stem, {})
                for word, count in seen.items():
                    merged[word] = merged.get(word, 0) + count
        hashes = [part.hashes for part in parts if part.hashes is not None]
        return cls(
            list(index),
            [lang for part in parts for lang in part.languages],
            {n: concat_ids(ids[n]) for n in FIELDS},
            {n: concat_ids([part.lengths[n] for part in parts]) for n in FIELDS},
            forms,
            np.concatenate(hashes) if parts and len(hashes) == len(parts) else None,
            written=written_words(
                [None if part.written is None else noted_forms(part.written) for part in parts]
            ),
        )

    def _offsets(self) -> np.ndarray:
        """Where each call's tokens of each field start in ``ids[field]``: fields × (calls
        + 1), the last column the field's total."""
        offsets = np.zeros((len(FIELDS), len(self) + 1), dtype=np.int64)
        for f, name in enumerate(FIELDS):
            np.cumsum(self.lengths[name], out=offsets[f, 1:])
        return offsets

    def take(self, rows: np.ndarray) -> CorpusAnalysis:
        """The calls at ``rows`` (in that order), with the same stem table."""
        rows = np.asarray(rows, dtype=np.int64)
        ids, lengths, variants = {}, {}, {}
        for name, offsets in zip(FIELDS, self._offsets(), strict=True):
            picked = self.lengths[name].astype(np.int64)[rows]
            first = np.zeros(len(rows), dtype=np.int64)
            if len(rows):
                np.cumsum(picked[:-1], out=first[1:])
            total = int(picked.sum())
            positions = np.arange(total, dtype=np.int64) - np.repeat(first, picked)
            at = np.repeat(offsets[rows], picked) + positions
            ids[name] = self.ids[name][at]
            lengths[name] = picked.astype(np.int32)
            if self.variants is not None:
                variants[name] = self.variants[name][at]
        languages = [self.languages[i] for i in rows.tolist()]
        hashes = None if self.hashes is None else self.hashes[rows]
        return CorpusAnalysis(
            self.stems,
            languages,
            ids,
            lengths,
            self.forms,
            hashes,
            variants if self.variants is not None else None,
            self.words,
            self.written,
        )

    def analysed_surface_words(
        self, rows: np.ndarray, wanted: Sequence[Collection[str]]
    ) -> list[dict[str, str]]:
        """``matcher.terms.surface_words`` of the calls at ``rows``, from the analysis, not
        the texts.

        Per call and wanted stem its text uses: the surface word it uses most for the stem
        (the first one seen, field after field, on a tie), as the calls write it
        (``written``). Needs the analysis' ``variants`` and ``words`` (a fresh analysis has
        them).
        """
        if self.variants is None or self.words is None:
            raise ValueError("this analysis does not keep its surface words")
        variants = self.variants
        index = {stem: i for i, stem in enumerate(self.stems)}
        asked = [sorted({index[t] for t in terms if t in index}) for terms in wanted]
        want_indptr = np.zeros(len(asked) + 1, dtype=np.int64)
        np.cumsum([len(ids) for ids in asked], out=want_indptr[1:])
        want_stems = np.fromiter(
            (i for ids in asked for i in ids), dtype=np.int64, count=int(want_indptr[-1])
        )
        best = np.empty(len(want_stems), dtype=np.int64)
        best_variants(
            np.asarray(rows, dtype=np.int64),
            self._offsets(),
            tuple(np.ascontiguousarray(self.ids[n], dtype=np.int32) for n in FIELDS),
            tuple(np.ascontiguousarray(variants[n], dtype=np.uint8) for n in FIELDS),
            want_indptr,
            want_stems,
            len(self.stems),
            best,
        )
        words, stems = self.words, self.stems
        written = self.written or {}
        out: list[dict[str, str]] = []
        for j, ids in enumerate(asked):
            found = best[want_indptr[j] : want_indptr[j + 1]].tolist()
            # UNNAMED (or no token): left out, the caller falls back to the corpus' word.
            out.append(
                {
                    stems[i]: written.get(words[i][v]) or words[i][v]
                    for i, v in zip(ids, found, strict=True)
                    if 0 <= v < len(words[i])
                }
            )
        return out

    def batches(self, size: int) -> Iterator[Batch]:
        """The analysis in chunks of ``size`` calls."""
        offsets = dict(zip(FIELDS, self._offsets(), strict=True))
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
    second``, sorted). A call's row depends on its own text only, so a cache can keep the
    rows of unchanged calls and replace the others (see :mod:`matcher.cache`).
    """

    stems: list[str]
    bigram_codes: np.ndarray
    counts: sp.csr_matrix  # calls x columns, float32
    german: np.ndarray  # per call: analysed as German (the IDF reference is English)
    forms: dict[str, dict[str, int]] = field(default_factory=dict)

    def compact(self, *, in_place: bool = False) -> CallCounts:
        """Without the columns no call uses (as a fit on these calls alone would number them).

        ``in_place``: renumber this object's column indices instead of a copy of them (for
        counts that were just built and are not shared).
        """
        n_stems = len(self.stems)
        used = column_counts(self.counts.indices, self.counts.shape[1]) > 0
        if used.all():
            return self
        keep_stems = used[:n_stems]
        remap = np.cumsum(keep_stems, dtype=np.int64) - 1
        n_kept = int(keep_stems.sum())
        codes = self.bigram_codes[used[n_stems:]]
        first, second = np.divmod(codes, max(1, n_stems))
        column = np.full(len(used), -1, dtype=np.int64)
        column[:n_stems][keep_stems] = remap[keep_stems]
        column[n_stems:][used[n_stems:]] = n_kept + np.arange(len(codes))
        if in_place:
            indices = self.counts.indices
            renumber(indices, column.astype(indices.dtype))
        else:
            indices = column[self.counts.indices].astype(np.int32)
        counts = sp.csr_matrix(
            (self.counts.data, indices, self.counts.indptr),
            shape=(self.counts.shape[0], n_kept + len(codes)),
        )
        stems = [stem for stem, keep in zip(self.stems, keep_stems.tolist(), strict=True) if keep]
        kept = set(stems)
        return CallCounts(
            stems,
            remap[first] * n_kept + remap[second],
            counts,
            self.german,
            {stem: seen for stem, seen in self.forms.items() if stem in kept},
        )


def concat_ids(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int32)
