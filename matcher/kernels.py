"""Compiled inner loops of ranking and explaining (numba), where numpy would need a dense
profiles × calls matrix or a Python loop per match.

* :func:`top_calls`: for a range of profiles, the similarity to every call (sparse query
  rows against the calls' transposed vectors, accumulated in one dense row per profile), the
  hard filters and soft factors (masks made by :class:`matcher.eligibility.CallTable`), the
  "not relevant" exclusions, and the best ``keep`` calls, ties broken by call id. It replaces
  a scipy sparse product with a dense result plus ``argpartition`` and runs about four times
  faster, because nothing profiles × calls is ever allocated.
* :func:`top_columns`: for (profile, call) pairs, the word-block columns adding most to the
  score (the terms an explanation names).

Both release the GIL (``nogil``), so callers run chunks on two threads. Compiled code is
cached beside this module (``cache=True``), so only the first process after an install pays
the compilation (a few seconds).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, cache=True)
def top_calls(
    q_indptr: np.ndarray,
    q_indices: np.ndarray,
    q_data: np.ndarray,
    t_indptr: np.ndarray,
    t_indices: np.ndarray,
    t_data: np.ndarray,
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

    ``q_*``: the query rows (CSR, float32); ``t_*``: the calls' vectors transposed (CSR, one
    row per term, float32). Row ``j`` of ``eligible`` (bool) and ``factor`` (float32) is
    profile ``start + j`` over all calls; ``excluded_rows[excluded_indptr[j]:...[j + 1]]``
    are call rows never to list for it. A call is listed if it is eligible, not excluded and
    its similarity reaches ``gate``; its score is similarity × factor. Writes the best
    ``out_rows.shape[1]`` per profile (row, score, similarity), best first, ties by call id,
    padded with row -1.
    """
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
    q_indptr: np.ndarray,
    q_indices: np.ndarray,
    q_data: np.ndarray,
    d_indptr: np.ndarray,
    d_indices: np.ndarray,
    d_data: np.ndarray,
    n_columns: int,
    pair_query: np.ndarray,
    pair_row: np.ndarray,
    n_words: int,
    out_columns: np.ndarray,
    out_values: np.ndarray,
) -> None:
    """For each pair ``i`` (query row ``pair_query[i]``, call row ``pair_row[i]``): the
    columns below ``n_words`` with the largest positive products query × call, largest
    first, ties by column, at most ``out_columns.shape[1]``; padded with column -1.

    Pairs of one query should be adjacent: the query is spread into a dense row once per
    run of pairs.
    """
    n = out_columns.shape[1]
    weights = np.zeros(n_columns, dtype=np.float32)
    current = -1
    for i in range(len(pair_query)):
        q = pair_query[i]
        if q != current:
            if current >= 0:
                for p in range(q_indptr[current], q_indptr[current + 1]):
                    weights[q_indices[p]] = 0.0
            for p in range(q_indptr[q], q_indptr[q + 1]):
                weights[q_indices[p]] = q_data[p]
            current = q
        found = 0
        d = pair_row[i]
        for p in range(d_indptr[d], d_indptr[d + 1]):
            col = d_indices[p]
            if col >= n_words:
                continue
            value = d_data[p] * weights[col]
            if value <= 0.0:
                continue
            # Insertion into the sorted top n (value descending, column ascending).
            at = found
            while at > 0 and (
                out_values[i, at - 1] < value
                or (out_values[i, at - 1] == value and out_columns[i, at - 1] > col)
            ):
                at -= 1
            if at >= n:
                continue
            last = min(found, n - 1)
            for k in range(last, at, -1):
                out_values[i, k] = out_values[i, k - 1]
                out_columns[i, k] = out_columns[i, k - 1]
            out_values[i, at] = value
            out_columns[i, at] = col
            if found < n:
                found += 1
        for k in range(found, n):
            out_columns[i, k] = -1
            out_values[i, k] = 0.0
