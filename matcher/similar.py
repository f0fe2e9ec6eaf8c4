""" "Similar calls" on a call's page: the calls nearest to it in the search index.

The search index already holds the fitted model and every call's vector, so a call's
neighbours are one sparse product away, with no model to fit per page. Only open and
forthcoming calls are suggested (storage's status SQL decides, as on every other page), but
a closed call may itself be the starting point: "this one closed, what else is there?".
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from matcher.rank import call_document
from matcher.search import MIN_SCORE, SearchIndex
from storage.call_filters import CallFilter, apply_filter, calls_in_order
from storage.models import FundingCall, utcnow

BATCH = 50  # candidates whose status is asked at a time, best first


def similar_calls(
    session: Session,
    index: SearchIndex,
    call_id: int,
    *,
    limit: int = 5,
    now: datetime | None = None,
) -> list[FundingCall]:
    """Up to ``limit`` open or forthcoming calls most like ``call_id``, most similar first,
    never the call itself; [] if it is not in the index.

    Similarity is the index's own: the product of the two calls' vectors, i.e. the weighted
    sum of their word and n-gram cosines, as the search ranks a query.
    """
    row = index.row_of.get(call_id)
    call = session.get(FundingCall, call_id) if row is not None and limit > 0 else None
    if row is None or call is None:
        return []
    # The same vector as the index's column for this call, without scanning every term's
    # row of the index for it (the index is stored by term).
    scores = index.scores(index.model.transform_calls([call_document(call)]))
    scores[row] = 0.0
    ranked = np.argsort(-scores, kind="stable")  # a tie goes to the lower call id
    ranked = ranked[: int(np.count_nonzero(scores >= MIN_SCORE))]
    now = now or utcnow()
    found: list[int] = []
    for start in range(0, len(ranked), BATCH):
        ids = index.call_ids[ranked[start : start + BATCH]].tolist()
        candidates = select(FundingCall.id).where(FundingCall.id.in_(ids))
        live = set(session.scalars(apply_filter(candidates, CallFilter(), now)))
        found += [cid for cid in ids if cid in live]
        if len(found) >= limit:
            break
    return calls_in_order(session, found[:limit])
