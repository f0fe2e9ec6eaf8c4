"""Compiled ranking and explaining: sparse query rows against the calls' vectors by term.

:func:`top_calls` accumulates a profile's similarity to every call in one dense row, applies
the hard filters, soft factors (masks made by :class:`matcher.eligibility.CallTable`) and
"not relevant" exclusions, and keeps the best calls, ties broken by call id; nothing profiles
× calls is ever allocated. :func:`top_columns` finds, for (profile, call) pairs, the
word-block columns adding most to the score (the terms an explanation names).
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp


def csr_arrays(matrix: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A CSR matrix as the kernels take it: (indptr, indices, data)."""
    return matrix.indptr, matrix.indices, matrix.data


@numba.njit(nogil=True, cache=True)
def top_calls(
    queries: tuple[np.ndarray, np.ndarray, np.ndarray],
    index: tuple[np.ndarray, np.ndarray, np.ndarray],
    start: int,
    eligible: np.ndarray,
    factor: np.ndarray,
    excluded_indptr: np.ndarray,
    excluded_rows: np.ndarray,
    call_ids: np.ndarray,
    gate: float,
    out_rows: np.ndarray,
    out_scores: np.ndarray,
    out_similarity: np.ndarray,
) -> None:
    """Rank the calls for the profiles ``start .. start + len(eligible)``.

    ``queries``: the query rows; ``index``: the calls' vectors by term (one row per term);
    both as :func:`csr_arrays`, float32. Row ``j`` of ``eligible`` (bool) and ``factor``
    (float32) is profile ``start + j`` over all calls;
    ``excluded_rows[excluded_indptr[j]:...[j + 1]]`` are call rows never to list for it. A
    call is listed if it is eligible, not excluded and its similarity reaches ``gate``; its
    score is similarity × factor. Writes the best ``out_rows.shape[1]`` per profile (row,
    score, similarity), best first, ties by call id, padded with row -1.
    """
    q_indptr, q_indices, q_data = queries
    t_indptr, t_indices, t_data = index
    n_calls = eligible.shape[1]
    keep = out_rows.shape[1]
    similarity = np.zeros(n_calls, dtype=np.float32)
    blocked = np.zeros(n_calls, dtype=np.bool_)
    rows = np.empty(n_calls, dtype=np.int64)
    scores = np.empty(n_calls, dtype=np.float32)
    for j in range(eligible.shape[0]):
        q = start + j
        for p in range(q_indptr[q], q_indptr[q + 1]):
            term = q_indices[p]
            weight = q_data[p]
            for r in range(t_indptr[term], t_indptr[term + 1]):
                similarity[t_indices[r]] += weight * t_data[r]
        for p in range(excluded_indptr[j], excluded_indptr[j + 1]):
            blocked[excluded_rows[p]] = True
        m = 0
        for d in range(n_calls):
            s = similarity[d]
            if s >= gate and eligible[j, d] and not blocked[d]:
                rows[m] = d
                scores[m] = s * factor[j, d]
                m += 1
        if m > keep:
            # Only calls at least as good as the keep-th best can be listed; among those,
            # the order is by score, then call id.
            threshold = np.partition(scores[:m], m - keep)[m - keep]
            n_top = 0
            for i in range(m):
                if scores[i] >= threshold:
                    rows[n_top] = rows[i]
                    scores[n_top] = scores[i]
                    n_top += 1
            m = n_top
        by_id = np.argsort(call_ids[rows[:m]], kind="mergesort")
        order = by_id[np.argsort(-scores[:m][by_id], kind="mergesort")]
        for i in range(keep):
            if i < m:
                d = rows[order[i]]
                out_rows[j, i] = d
                out_scores[j, i] = scores[order[i]]
                out_similarity[j, i] = similarity[d]
            else:
                out_rows[j, i] = -1
        for d in range(n_calls):
            similarity[d] = 0.0
        for p in range(excluded_indptr[j], excluded_indptr[j + 1]):
            blocked[excluded_rows[p]] = False


@numba.njit(nogil=True, cache=True)
def top_columns(
    queries: tuple[np.ndarray, np.ndarray, np.ndarray],
    index: tuple[np.ndarray, np.ndarray, np.ndarray],
    pair_query: np.ndarray,
    pair_row: np.ndarray,
    n_words: int,
    out_columns: np.ndarray,
    out_values: np.ndarray,
) -> None:
    """For each pair ``i`` (query row ``pair_query[i]``, call ``pair_row[i]``): the columns
    below ``n_words`` with the largest positive products query × call, largest first, ties
    by column, at most ``out_columns.shape[1]``; padded with column -1.

    ``queries`` and ``index`` as in :func:`top_calls`; the index's rows are sorted by call, so
    a call's weight for a query term is found by binary search in that term's row.
    """
    q_indptr, q_indices, q_data = queries
    t_indptr, t_indices, t_data = index
    n = out_columns.shape[1]
    for i in range(len(pair_query)):
        q = pair_query[i]
        d = pair_row[i]
        found = 0
        for p in range(q_indptr[q], q_indptr[q + 1]):
            col = q_indices[p]
            if col >= n_words:
                continue
            lo = t_indptr[col]
            hi = t_indptr[col + 1]
            at = lo + np.searchsorted(t_indices[lo:hi], d)
            if at >= hi or t_indices[at] != d:
                continue
            value = t_data[at] * q_data[p]
            if value <= 0.0:
                continue
            # Insertion into the sorted top n (value descending, column ascending).
            k = found
            while k > 0 and (
                out_values[i, k - 1] < value
                or (out_values[i, k - 1] == value and out_columns[i, k - 1] > col)
            ):
                k -= 1
            if k >= n:
                continue
            for m in range(min(found, n - 1), k, -1):
                out_values[i, m] = out_values[i, m - 1]
                out_columns[i, m] = out_columns[i, m - 1]
            out_values[i, k] = value
            out_columns[i, k] = col
            if found < n:
                found += 1
        for k in range(found, n):
            out_columns[i, k] = -1
            out_values[i, k] = 0.0
