""" "Similar calls" for any call, with the same machinery as the ranking.

The call is read as a query (``TextModel.transform_queries``, so a German call finds English
ones through the glossary) and scored against every other call's document vector. By
default only open and forthcoming calls are suggested: a closed call is no use to anyone,
but it may itself be the starting point ("this one closed, what else is there?").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import scipy.sparse as sp
from sqlalchemy.orm import Session

from matcher.eligibility import CallFacts, call_facts
from matcher.rank import call_document
from matcher.runs import ModelFactory, default_model_factory
from matcher.vectorize import Document, TextModel
from storage.matching import RANKABLE_STATUSES, load_live_calls
from storage.models import utcnow
from storage.queries import get_call


@dataclass(frozen=True)
class SimilarCall:
    """A call like the one asked about, with the words they share most."""

    call_id: int
    score: float
    terms: list[tuple[str, float]] = field(default_factory=list)


@dataclass
class CallIndex:
    """A fitted model and the vectors of a set of calls, reusable for many look-ups."""

    model: TextModel
    by_term: sp.csr_matrix  # the calls' vectors, terms x calls
    facts: list[CallFacts]
    texts: list[Document]

    def __post_init__(self) -> None:
        self.call_ids = np.fromiter((f.call_id for f in self.facts), dtype=np.int64)
        self.row_of = {int(cid): row for row, cid in enumerate(self.call_ids)}
        self.live = np.fromiter((f.status in RANKABLE_STATUSES for f in self.facts), dtype=bool)


def build_call_index(
    session: Session, *, now: datetime | None = None, model_factory: ModelFactory | None = None
) -> CallIndex:
    """Fit the text model on every call not withdrawn and keep their vectors."""
    now = now or utcnow()
    calls = load_live_calls(session)
    texts = [call_document(c) for c in calls]
    model = (model_factory or default_model_factory())()
    by_term = model.fit_transform(texts, by_term=True) if texts else sp.csr_matrix((0, 0))
    return CallIndex(
        model=model, by_term=by_term, facts=[call_facts(c, now) for c in calls], texts=texts
    )


def similar_calls(
    source: Session | CallIndex,
    call_id: int,
    n: int = 10,
    *,
    include_closed: bool = False,
    min_similarity: float = 0.05,
    now: datetime | None = None,
    terms: int = 5,
) -> list[SimilarCall]:
    """Up to ``n`` calls most like ``call_id`` (never itself), best first.

    ``source`` is a session (an index is built on the fly) or a :class:`CallIndex` built once
    and reused. A call missing from the index (withdrawn, or unknown) raises ``KeyError``
    unless a session is given, in which case it is read from the database.
    """
    if isinstance(source, CallIndex):
        index = source
        if call_id not in index.row_of:
            raise KeyError(f"call {call_id} is not in the index")
        text = index.texts[index.row_of[call_id]]
    else:
        index = build_call_index(source, now=now)
        if call_id in index.row_of:
            text = index.texts[index.row_of[call_id]]
        else:
            call = get_call(source, call_id)
            if call is None:
                raise KeyError(f"there is no call {call_id}")
            text = call_document(call)
    if n < 1 or len(index.facts) == 0:
        return []
    query = index.model.transform_queries([text])
    scores = (sp.csr_matrix(query, dtype=np.float32) @ index.by_term).toarray()[0]
    allowed = (scores >= max(min_similarity, 1e-9)) & (index.call_ids != call_id)
    if not include_closed:
        allowed &= index.live
    candidates = np.flatnonzero(allowed)
    if len(candidates) > n:
        candidates = candidates[np.argpartition(-scores[candidates], n - 1)[:n]]
    rows = candidates[np.lexsort((index.call_ids[candidates], -scores[candidates]))].tolist()
    found = index.model.top_columns(query, index.by_term, [0] * len(rows), rows, terms)
    return [
        SimilarCall(
            call_id=int(index.call_ids[row]),
            score=float(scores[row]),
            terms=[(index.model.term_text(col), value) for col, value in columns],
        )
        for row, columns in zip(rows, found, strict=True)
    ]
