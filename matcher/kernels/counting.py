"""Compiled counting: the stem-pair code table, field-weighted tf rows, and CSR columns.

The stem pairs (bigrams) of a corpus go into an open-addressing hash set
(:func:`collect_pairs`), and each document's field-weighted sublinear tf is counted in dense
per-column counters (:func:`count_rows`), instead of sorting every occurrence of the corpus
at once; :func:`column_counts` says how many calls use each column.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, cache=True)
def column_counts(indices: np.ndarray, n_columns: int) -> np.ndarray:
    """How often each column ``0 .. n_columns - 1`` occurs in ``indices`` (``np.bincount``
    without the int64 copy of all the indices it makes first)."""
    counts = np.zeros(n_columns, dtype=np.int64)
    for i in range(len(indices)):
        counts[indices[i]] += 1
    return counts


# -- a hash table of stem-pair codes, and field-weighted tf rows -----------------------------

_EMPTY_CODE = -1
_HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


@numba.njit(nogil=True, cache=True, inline="always")
def _first_slot(code: int, mask: int) -> int:
    # Fibonacci hashing: the high bits of code × 2^64/φ, folded to the table size.
    return int((np.uint64(code) * _HASH_MULTIPLIER) >> np.uint64(32)) & mask


@numba.njit(nogil=True, cache=True)
def _add_code(keys: np.ndarray, code: int) -> bool:
    """Put ``code`` into the open-addressing set ``keys``; True if it was not there."""
    mask = len(keys) - 1
    slot = _first_slot(code, mask)
    while True:
        found = keys[slot]
        if found == code:
            return False
        if found == _EMPTY_CODE:
            keys[slot] = code
            return True
        slot = (slot + 1) & mask


@numba.njit(nogil=True, cache=True)
def _grown(keys: np.ndarray) -> np.ndarray:
    bigger = np.full(2 * len(keys), _EMPTY_CODE, dtype=np.int64)
    for code in keys:
        if code != _EMPTY_CODE:
            _add_code(bigger, code)
    return bigger


@numba.njit(nogil=True, cache=True)
def code_table(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A lookup table ``code → position in codes`` (keys, values; see :func:`count_rows`)."""
    size = 16
    while size < 2 * len(codes):
        size *= 2
    keys = np.full(size, _EMPTY_CODE, dtype=np.int64)
    values = np.full(size, -1, dtype=np.int32)
    mask = size - 1
    for i in range(len(codes)):
        slot = _first_slot(codes[i], mask)
        while keys[slot] != _EMPTY_CODE and keys[slot] != codes[i]:
            slot = (slot + 1) & mask
        keys[slot] = codes[i]
        values[slot] = i
    return keys, values


@numba.njit(nogil=True, cache=True, inline="always")
def _look_up(keys: np.ndarray, values: np.ndarray, code: int) -> int:
    mask = len(keys) - 1
    slot = _first_slot(code, mask)
    while True:
        found = keys[slot]
        if found == code:
            return values[slot]
        if found == _EMPTY_CODE:
            return -1
        slot = (slot + 1) & mask


@numba.njit(nogil=True, cache=True)
def collect_pairs(
    field_ids: tuple[np.ndarray, ...],
    starts: np.ndarray,
    stops: np.ndarray,
    counted: np.ndarray,
    n_stems: int,
    keys: np.ndarray,
    count: int,
) -> tuple[np.ndarray, int]:
    """Add the code ``a * n_stems + b`` of every adjacent stem pair to the set ``keys``.

    Document ``d``'s stems in field ``f`` are ``field_ids[f][starts[d, f]:stops[d, f]]``;
    fields with ``counted[f]`` false are skipped, and so are pairs with an id outside
    ``0 .. n_stems - 1``. ``keys`` (size a power of two, ``-1`` for empty) grows as needed;
    returns the set and the number of codes in it.
    """
    for d in range(starts.shape[0]):
        for f in range(starts.shape[1]):
            if not counted[f]:
                continue
            ids = field_ids[f]
            for t in range(starts[d, f], stops[d, f] - 1):
                a = np.int64(ids[t])
                b = np.int64(ids[t + 1])
                if a < 0 or b < 0 or a >= n_stems or b >= n_stems:
                    continue
                if 2 * (count + 1) > len(keys):
                    keys = _grown(keys)
                if _add_code(keys, a * n_stems + b):
                    count += 1
    return keys, count


@numba.njit(nogil=True, cache=True)
def count_rows(
    field_ids: tuple[np.ndarray, ...],
    starts: np.ndarray,
    stops: np.ndarray,
    weights: np.ndarray,
    n_stems: int,
    keys: np.ndarray,
    values: np.ndarray,
    n_columns: int,
    out_indptr: np.ndarray,
    out_indices: np.ndarray,
    out_data: np.ndarray,
) -> int:
    """Field-weighted sublinear tf of documents as CSR rows with sorted columns.

    Document ``d``'s stems in field ``f`` are ``field_ids[f][starts[d, f]:stops[d, f]]``
    (see :func:`collect_pairs`). A stem id below ``n_stems`` is its own column; an adjacent
    pair of such ids whose code is in the table ``keys``/``values`` (:func:`code_table`) is
    column ``n_stems + value``; ``n_columns`` is one more than the largest column. A
    column's value is the sum over fields, in field order and in float32, of ``weights[f] *
    (1 + ln count)``. Fills ``out_indptr`` (length documents + 1) and the first entries of
    ``out_indices``/``out_data`` (room for two per id given); returns the number of entries
    written.

    Occurrences are counted in dense per-column counters (reset as they are read), so the
    only sort is of each document's distinct columns, not of all its occurrences.
    """
    n_docs, n_fields = starts.shape
    longest = 1
    widest = 1
    for d in range(n_docs):
        total = 0
        for f in range(n_fields):
            size = stops[d, f] - starts[d, f]
            longest = max(longest, size)
            total += size
        widest = max(widest, total)
    occurrences = np.zeros(n_columns, dtype=np.int32)  # per column, in the current field
    totals = np.zeros(n_columns, dtype=np.float32)  # per column, in the current document
    listed = np.zeros(n_columns, dtype=np.int32)  # per column, 1 + the last document using it
    field_columns = np.empty(2 * longest, dtype=np.int64)
    doc_columns = np.empty(2 * widest, dtype=np.int64)
    with_pairs = len(keys) > 0
    at = 0
    out_indptr[0] = 0
    for d in range(n_docs):
        m = 0
        for f in range(n_fields):
            weight = weights[f]
            if weight == 0.0:
                continue
            ids = field_ids[f]
            n = 0
            for t in range(starts[d, f], stops[d, f]):
                a = ids[t]
                if a >= 0 and a < n_stems:
                    if occurrences[a] == 0:
                        field_columns[n] = a
                        n += 1
                    occurrences[a] += 1
            if with_pairs:
                for t in range(starts[d, f], stops[d, f] - 1):
                    a = np.int64(ids[t])
                    b = np.int64(ids[t + 1])
                    if a < 0 or b < 0 or a >= n_stems or b >= n_stems:
                        continue
                    col = _look_up(keys, values, a * n_stems + b)
                    if col >= 0:
                        col += n_stems
                        if occurrences[col] == 0:
                            field_columns[n] = col
                            n += 1
                        occurrences[col] += 1
            for i in range(n):
                col = field_columns[i]
                value = (np.float32(1.0) + np.log(np.float32(occurrences[col]))) * weight
                occurrences[col] = 0
                if listed[col] != d + 1:
                    listed[col] = d + 1
                    doc_columns[m] = col
                    m += 1
                totals[col] += value
        if m > 0:
            ordered = np.sort(doc_columns[:m])
            for i in range(m):
                col = ordered[i]
                out_indices[at] = col
                out_data[at] = totals[col]
                totals[col] = 0.0
                at += 1
        out_indptr[d + 1] = at
    return at
