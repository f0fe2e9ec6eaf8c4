"""Compiled call vectors: n-gram document frequencies, and vectors written by term.

The word block and the n-gram block of the calls' vectors are computed from their counts
and written straight into the terms × calls layout ranking reads, a part of the calls per
thread, so no calls × terms matrix and no transposed copy is ever made.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, cache=True)
def gram_frequencies(
    indptr: np.ndarray,
    indices: np.ndarray,
    begin: int,
    end: int,
    g_indptr: np.ndarray,
    g_indices: np.ndarray,
    n_grams: int,
    n_stems: int,
) -> np.ndarray:
    """Per n-gram, in how many of the rows ``begin .. end - 1`` of a counts CSR it occurs.

    Column ``c`` of the counts has the n-grams ``g_indices[g_indptr[c]:g_indptr[c + 1]]``.
    Only the stems' columns, ``0 .. n_stems - 1``, have n-grams (the pairs' come after
    them), and each row's columns are sorted, so a row is read up to its first pair.
    """
    df = np.zeros(n_grams, dtype=np.int64)
    seen = np.full(n_grams, -1, dtype=np.int64)
    for r in range(begin, end):
        for p in range(indptr[r], indptr[r + 1]):
            c = indices[p]
            if c >= n_stems:
                break
            for q in range(g_indptr[c], g_indptr[c + 1]):
                g = g_indices[q]
                if seen[g] != r:
                    seen[g] = r
                    df[g] += 1
    return df


@numba.njit(nogil=True, cache=True)
def vectors_by_term(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    begin: int,
    end: int,
    idf: np.ndarray,
    word_scale: float,
    g_indptr: np.ndarray,
    g_indices: np.ndarray,
    g_idf: np.ndarray,
    gram_scale: float,
    n_words: int,
    n_stems: int,
    cursor: np.ndarray,
    out_indices: np.ndarray,
    out_data: np.ndarray,
) -> None:
    """The vectors of counts rows ``begin .. end - 1``, appended to a terms × calls CSR.

    Per row, as :meth:`matcher.vectors.Weighting.rows` computes it: the word block is
    tf × ``idf`` scaled to length ``word_scale``; the n-gram block sums each word's count
    into its n-grams (``g_*``, see :func:`gram_frequencies`), times ``g_idf``, scaled to
    length ``gram_scale``, in columns from ``n_words`` on (only the first ``n_stems`` words
    have n-grams, and they come first in every row). ``cursor[c]`` is the next free
    slot of term row ``c`` and moves on, so rows given in call order leave every term row
    sorted by call; two threads may fill disjoint row ranges with cursors set apart.
    """
    n_grams = len(g_idf)
    longest = 0
    for r in range(begin, end):
        longest = max(longest, indptr[r + 1] - indptr[r])
    values = np.empty(longest, dtype=np.float32)
    sums = np.zeros(n_grams, dtype=np.float32)
    touched = np.empty(n_grams, dtype=np.int64)
    for r in range(begin, end):
        lo = indptr[r]
        hi = indptr[r + 1]
        total = 0.0
        for p in range(lo, hi):
            v = np.float32(np.float64(data[p]) * idf[indices[p]])
            values[p - lo] = v
            total += np.float64(v) * np.float64(v)
        norm = np.sqrt(total)
        scale = np.float32(word_scale / (norm if norm > 0.0 else 1.0))
        for p in range(lo, hi):
            c = indices[p]
            at = cursor[c]
            out_indices[at] = r
            out_data[at] = values[p - lo] * scale
            cursor[c] = at + 1
        if n_grams == 0:
            continue
        m = 0
        for p in range(lo, hi):
            c = indices[p]
            if c >= n_stems:
                break
            x = data[p]
            for q in range(g_indptr[c], g_indptr[c + 1]):
                g = g_indices[q]
                if sums[g] == 0.0:
                    touched[m] = g
                    m += 1
                sums[g] += x
        total = 0.0
        for i in range(m):
            g = touched[i]
            v = np.float32(np.float64(sums[g]) * g_idf[g])
            sums[g] = v
            total += np.float64(v) * np.float64(v)
        norm = np.sqrt(total)
        scale = np.float32(gram_scale / (norm if norm > 0.0 else 1.0))
        for i in range(m):
            g = touched[i]
            c = n_words + g
            at = cursor[c]
            out_indices[at] = r
            out_data[at] = sums[g] * scale
            cursor[c] = at + 1
            sums[g] = 0.0
