"""Counting analysed calls: each call's field-weighted term frequencies over the vocabulary.

:func:`count_calls` gives the fitted call side of a corpus (``CallCounts``). The counts are
written by a compiled kernel into CSR arrays; many chunks of calls are counted on threads
straight into one result, which is where a fit spends most of its time.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from matcher.corpus import (
    NO_PAIR_TABLE,
    Batch,
    CallCounts,
    CorpusAnalysis,
    count_room,
    segments_of,
)
from matcher.documents import FIELDS
from matcher.kernels.counting import collect_pairs, column_counts, count_rows
from matcher.params import ModelParams, Parallelism
from matcher.vocabulary import Vocabulary


@dataclass(frozen=True)
class Counting:
    """How the model counts: over which columns, with which field weights, on how many threads."""

    vocabulary: Vocabulary
    weights: np.ndarray  # per field of FIELDS, float32
    bigrams: bool
    threads: int

    @classmethod
    def of(cls, vocabulary: Vocabulary, params: ModelParams, threads: int) -> Counting:
        """Counting over ``vocabulary`` with the field weights of ``params``."""
        weights = params.field_weights()
        array = np.array([weights[name] for name in FIELDS], dtype=np.float32)
        return cls(vocabulary, array, params.bigrams, threads)

    def rows(self, batch: Batch) -> sp.csr_matrix:
        """Field-weighted sublinear tf of a batch (rows) over the fitted vocabulary."""
        room = count_room(batch)
        indptr = np.empty(len(batch.languages) + 1, dtype=np.int64)
        indices = np.empty(room, dtype=np.int32)
        data = np.empty(room, dtype=np.float32)
        nnz = self.into(batch, indptr, indices, data)
        return sp.csr_matrix(
            (data[:nnz].copy(), indices[:nnz].copy(), indptr),
            shape=(len(batch.languages), len(self.vocabulary)),
        )

    def into(self, batch: Batch, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray) -> int:
        """:meth:`rows` written into the given CSR arrays (room for
        :func:`count_room` entries); the number of entries written."""
        vocab = self.vocabulary
        ids, starts, stops = segments_of(batch)
        keys, values = NO_PAIR_TABLE
        if self.bigrams and len(vocab.bigram_codes):
            keys, values = vocab.bigram_table()
        return int(
            count_rows(
                ids,
                starts,
                stops,
                self.weights,
                vocab.n_stems,
                keys,
                values,
                len(vocab),
                indptr,
                indices,
                data,
            )
        )

    def stacked(self, batches: list[Batch]) -> sp.csr_matrix:
        """:meth:`rows` of consecutive batches, stacked; batches run on two threads.

        Each thread counts into a buffer of its own, reused for every batch it takes, and
        copies the rows to where they belong in the result once the batch before has been
        counted: the result is written once, by both threads, and no per-batch matrices
        are stacked afterwards. (On this kind of machine, memory written for the first time
        costs far more than the copy itself.) The result's arrays have room for every
        entry the batches could have; the room not written is never touched, so it costs
        address space, not memory.
        """
        width = len(self.vocabulary)
        if not batches:
            return sp.csr_matrix((0, width), dtype=np.float32)
        self.vocabulary.bigram_table()  # built once, before the threads read it
        rooms = [count_room(batch) for batch in batches]
        sizes = [len(batch.languages) for batch in batches]
        first_row = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        indptr = np.empty(int(first_row[-1]) + 1, dtype=np.int64)
        indptr[0] = 0
        indices = np.empty(sum(rooms), dtype=np.int32)
        data = np.empty(sum(rooms), dtype=np.float32)
        # Where batch b's entries go: None until the batches before it are counted.
        begins: list[int | None] = [0] + [None] * len(batches)
        failed = threading.Event()
        ready = threading.Condition()
        buffers = threading.local()

        def count(b: int) -> None:
            own = getattr(buffers, "arrays", None)
            if own is None:
                most = max(rooms)
                own = buffers.arrays = (
                    np.empty(max(sizes) + 1, dtype=np.int64),
                    np.empty(most, dtype=np.int32),
                    np.empty(most, dtype=np.float32),
                )
            own_indptr, own_indices, own_data = own
            try:
                nnz = self.into(batches[b], own_indptr, own_indices, own_data)
                with ready:
                    ready.wait_for(lambda: begins[b] is not None or failed.is_set())
                    begin = begins[b]
                    if begin is None:  # an earlier batch failed
                        return
                    begins[b + 1] = begin + nnz
                    ready.notify_all()
            except BaseException:
                with ready:
                    failed.set()
                    ready.notify_all()
                raise
            indices[begin : begin + nnz] = own_indices[:nnz]
            data[begin : begin + nnz] = own_data[:nnz]
            rows = slice(first_row[b] + 1, first_row[b + 1] + 1)
            np.add(own_indptr[1 : sizes[b] + 1], begin, out=indptr[rows])

        with ThreadPoolExecutor(max_workers=self.threads) as pool:
            list(pool.map(count, range(len(batches))))
        nnz = int(begins[-1])  # type: ignore[arg-type]  # every batch was counted
        return sp.csr_matrix(
            (data[:nnz], indices[:nnz], indptr), shape=(len(indptr) - 1, width), copy=False
        )

    def fit_bigrams(self, batches: list[Batch]) -> np.ndarray:
        """Codes of the stem bigrams of the calls, sorted.

        The pairs go through a compiled hash set, one pass and no sort of all occurrences;
        each thread collects the pairs of its half of the calls into its own set.
        """
        counted = self.weights != 0.0
        n_stems = self.vocabulary.n_stems

        def collect(part: list[Batch]) -> np.ndarray:
            keys, count = np.full(1 << 16, -1, dtype=np.int64), 0
            for batch in part:
                ids, starts, stops = segments_of(batch)
                keys, count = collect_pairs(ids, starts, stops, counted, n_stems, keys, count)
            return keys[keys >= 0]

        half = (len(batches) + 1) // 2
        with ThreadPoolExecutor(max_workers=self.threads) as pool:
            found = list(pool.map(collect, [batches[:half], batches[half:]]))
        return np.union1d(*found).astype(np.int64)


def _without_rare_pairs(
    counts: sp.csr_matrix, vocabulary: Vocabulary, min_df: int
) -> tuple[sp.csr_matrix, np.ndarray]:
    """The counts without the stem-pair columns used by fewer than ``min_df`` calls, and the
    codes of the pairs kept. A column's counts do not depend on the other columns, so this
    equals counting over the pairs kept alone."""
    n_stems = vocabulary.n_stems
    keep = np.ones(counts.shape[1], dtype=bool)
    keep[n_stems:] = column_counts(counts.indices, counts.shape[1])[n_stems:] >= min_df
    return sp.csr_matrix(counts[:, keep]), vocabulary.bigram_codes[keep[n_stems:]]


def count_calls(
    analysis: CorpusAnalysis, params: ModelParams, parallelism: Parallelism
) -> CallCounts:
    """The fitted call side of analysed calls: vocabulary and field-weighted tf per call.

    Everything corpus-wide that depends on it (IDF, n-grams, vectors) is derived from it
    by the model's fit.
    """
    stems = list(analysis.stems)
    vocabulary = Vocabulary({stem: i for i, stem in enumerate(stems)}, stems, len(stems))
    counting = Counting.of(vocabulary, params, parallelism.threads)
    german = np.array([lang == "de" for lang in analysis.languages], dtype=bool)
    batches = list(analysis.batches(parallelism.count_chunk))
    del analysis
    if params.bigrams:
        vocabulary.bigram_codes = counting.fit_bigrams(batches)
    counts = counting.stacked(batches)
    if params.bigrams and params.min_bigram_df > 1:
        counts, vocabulary.bigram_codes = _without_rare_pairs(
            counts, vocabulary, params.min_bigram_df
        )
    return CallCounts(list(stems), vocabulary.bigram_codes, counts, german)
