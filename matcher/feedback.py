"""Relevance feedback: the service desk's reviews move a profile's query (Rocchio).

For a profile with query vector ``q`` (L2-normalised, from ``TextModel.transform_queries``),
the calls reviewed as relevant ``R`` and as not relevant ``N`` (their document vectors)::

    q' = α·q + β·mean(R) − γ·mean(N),  negative weights clipped to 0,  then L2-normalised

with α = 1.0, β = 0.75, γ = 0.15, the classic SMART values (Rocchio 1971; Salton & Buckley
1990): the profile's own words stay the anchor, positive examples pull harder than negative
ones push, because a "not relevant" call is often rejected for reasons that are not in its
words (a deadline, a partner requirement). Not-relevant calls are also excluded outright:
a call marked not relevant never returns for that profile (see ``matcher.rank``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

ALPHA = 1.0
BETA = 0.75
GAMMA = 0.15


@dataclass(frozen=True)
class FeedbackVectors:
    """The document vectors of one profile's reviewed calls (rows; may be None)."""

    relevant: sp.csr_matrix | None = None
    not_relevant: sp.csr_matrix | None = None

    @property
    def empty(self) -> bool:
        """Whether there is nothing to learn from."""
        return (self.relevant is None or self.relevant.shape[0] == 0) and (
            self.not_relevant is None or self.not_relevant.shape[0] == 0
        )


def _mean_row(rows: sp.csr_matrix | None, width: int) -> sp.csr_matrix:
    if rows is None or rows.shape[0] == 0:
        return sp.csr_matrix((1, width), dtype=np.float64)
    return sp.csr_matrix(rows.mean(axis=0))


def rocchio(
    query: sp.csr_matrix,
    feedback: FeedbackVectors,
    *,
    alpha: float = ALPHA,
    beta: float = BETA,
    gamma: float = GAMMA,
) -> sp.csr_matrix:
    """One query row moved by feedback: ``α q + β mean(R) − γ mean(N)``, clipped, L2-normed.

    If clipping leaves nothing (a query made only of rejected words), the original query is
    returned: an empty query would match nothing at all.
    """
    width = query.shape[1]
    moved = (
        alpha * query.astype(np.float64)
        + beta * _mean_row(feedback.relevant, width)
        - gamma * _mean_row(feedback.not_relevant, width)
    ).tocsr()
    moved.data[moved.data < 0] = 0.0
    moved.eliminate_zeros()
    if moved.nnz == 0:
        return query
    return normalize(moved, norm="l2").astype(query.dtype)


def apply_feedback(
    queries: sp.csr_matrix,
    feedback: Sequence[FeedbackVectors | None],
    *,
    alpha: float = ALPHA,
    beta: float = BETA,
    gamma: float = GAMMA,
) -> sp.csr_matrix:
    """All query rows, each moved by its own feedback (``None`` or empty: unchanged)."""
    if len(feedback) != queries.shape[0]:
        raise ValueError(f"{queries.shape[0]} queries but feedback for {len(feedback)}")
    if all(fb is None or fb.empty for fb in feedback):
        return queries
    queries = sp.csr_matrix(queries)
    rows = []
    for i, fb in enumerate(feedback):
        row = queries[i]
        rows.append(
            row if fb is None or fb.empty else rocchio(row, fb, alpha=alpha, beta=beta, gamma=gamma)
        )
    return sp.vstack(rows, format="csr").astype(queries.dtype)
