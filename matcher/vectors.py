"""Unit vectors from counts: the word block and the n-gram block, side by side.

Each block is weighed by its IDF, L2-normalised and scaled by the square root of its share
(``ngram_weight`` for the n-grams), so every row has unit length and one sparse dot product
gives the weighted sum of the two cosines. A fit's calls are written by term (terms × calls),
the layout ranking reads, without a calls × terms copy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from matcher.kernels.vectors import vectors_by_term
from matcher.ngrams import NgramBlock


def _weigh_unit_rows(matrix: sp.csr_matrix, weights: np.ndarray, scale: float) -> None:
    """In place: ``data *= weights[column]``, then every row scaled to length ``scale``.

    O(nnz) on the ``data`` array: no per-row Python and no second matrix.
    """
    data = matrix.data
    data *= weights[matrix.indices]
    lengths = np.diff(matrix.indptr)
    sums = np.zeros(len(lengths), dtype=np.float64)
    filled = lengths > 0
    if filled.any():
        # Segments start at non-empty rows only: an empty row would repeat its neighbour.
        sums[filled] = np.add.reduceat(
            np.square(data, dtype=np.float64), matrix.indptr[:-1][filled]
        )
    norms = np.sqrt(sums)
    norms[norms == 0.0] = 1.0
    data *= np.repeat(scale / norms, lengths).astype(data.dtype)


@dataclass
class CallPart:
    """Rows ``start:stop`` of the calls, and per column of the vectors how many use it."""

    start: int
    stop: int
    df: np.ndarray


@dataclass(frozen=True)
class Weighting:
    """What a fit learnt to turn counts into unit vectors."""

    idf: np.ndarray  # per word-block column
    ngrams: NgramBlock
    ngram_weight: float
    n_stems: int  # the word block's first columns, the ones with n-grams

    @property
    def with_grams(self) -> bool:
        return self.ngram_weight > 0.0 and self.ngrams.width > 0

    @property
    def width(self) -> int:
        """Columns of the vectors: the word block's, then the n-gram block's."""
        return len(self.idf) + (self.ngrams.width if self.ngram_weight > 0.0 else 0)

    def rows(
        self,
        counts: sp.csr_matrix,
        idf_power: float = 1.0,
        extra_grams: sp.csr_matrix | None = None,
    ) -> sp.csr_matrix:
        """Unit rows from field-weighted tf: the two blocks, each normalised and weighted.

        ``extra_grams``: n-gram counts the word block cannot carry (unseen words).
        """
        idf = self.idf if idf_power == 1.0 else self.idf**idf_power
        counts = sp.csr_matrix(counts)
        beta = self.ngram_weight
        with_grams = self.with_grams
        # The word block shares the counts' indices; only its data is a copy.
        words = sp.csr_matrix(
            (counts.data.astype(np.float32), counts.indices, counts.indptr), shape=counts.shape
        )
        _weigh_unit_rows(words, idf, math.sqrt(1.0 - beta) if with_grams else 1.0)
        if not with_grams:
            return words
        grams = counts @ self.ngrams.matrix
        if extra_grams is not None:
            grams = grams + extra_grams
        grams = sp.csr_matrix(grams, dtype=np.float32)
        _weigh_unit_rows(grams, self.ngrams.idf, math.sqrt(beta))
        return sp.hstack([words, grams], format="csr", dtype=np.float32)

    def by_term(
        self,
        counts: sp.csr_matrix,
        parts: Sequence[CallPart],
        column_df: np.ndarray,
        threads: int,
    ) -> sp.csr_matrix:
        """:meth:`rows` of the calls ``counts`` as terms × calls, each term's row sorted by
        call.

        Written by :func:`matcher.kernels.vectors.vectors_by_term`, a part of the calls per thread,
        into arrays sized from the calls per column the fit counted (``column_df``, and per
        part its ``df``), so no calls × terms copy of the vectors is ever made.
        """
        n_calls, width = counts.shape[0], self.width
        indptr = np.zeros(width + 1, dtype=np.int64)
        np.cumsum(column_df, out=indptr[1:])
        indices = np.empty(int(indptr[-1]), dtype=np.int32)
        data = np.empty(int(indptr[-1]), dtype=np.float32)
        # Each part of the calls writes its rows from where the parts before it end.
        starts = [indptr[:-1].copy()]
        for part in parts:
            starts.append(starts[-1] + part.df)
        cursors = [start.copy() for start in starts[:-1]]
        beta = self.ngram_weight
        with_grams = self.with_grams
        n_words = len(self.idf)
        grams = self.ngrams.matrix if with_grams else sp.csr_matrix((n_words, 0))
        idf = np.asarray(self.idf, dtype=np.float64)
        g_idf = np.asarray(self.ngrams.idf if with_grams else np.zeros(0), dtype=np.float64)

        def write(part: CallPart, cursor: np.ndarray) -> None:
            vectors_by_term(
                counts.indptr,
                counts.indices,
                counts.data,
                part.start,
                part.stop,
                idf,
                math.sqrt(1.0 - beta) if with_grams else 1.0,
                grams.indptr,
                grams.indices,
                g_idf,
                math.sqrt(beta),
                n_words,
                self.n_stems,
                cursor,
                indices,
                data,
            )

        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(write, parts, cursors))
        # Each part must have filled its slots exactly: it ends where the next one starts.
        if not all(np.array_equal(c, e) for c, e in zip(cursors, starts[1:], strict=True)):
            raise RuntimeError("call vectors do not match the fitted column counts")
        return sp.csr_matrix((data, indices, indptr), shape=(width, n_calls))
