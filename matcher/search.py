"""Public search: a query ranked over the stored calls with the matcher's own analysis.

The query is read as the matcher reads a profile (``TextModel.transform_queries``): stems,
umlaut folding, compounds and the German–English glossary, so "Jugendaustausch Polen" finds
English Erasmus+ calls. Filters are SQL (``storage.call_filters``), shared with the pages
that list calls without a query; the index only ranks.

The index follows the calls: :class:`SearchIndexHolder` rebuilds it when the stored calls
change (their number or their newest change), so a crawl's calls are searchable without a
restart.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import scipy.sparse as sp
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matcher.rank import call_document
from matcher.runs import ModelFactory, default_model_factory
from matcher.vectorize import Document, TextModel
from storage.call_filters import (
    CallFilter,
    calls_in_order,
    facet_counts,
    filtered_call_ids,
    sorted_calls,
)
from storage.matching import load_live_calls
from storage.models import FundingCall, utcnow

MIN_SCORE = 0.02  # below this a call shares no more than a stray n-gram with the query
MATCHED_TERMS = 8
_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")


@dataclass
class SearchIndex:
    """A text model fitted on the stored calls and their vectors (terms × calls)."""

    model: TextModel
    by_term: sp.csr_matrix
    call_ids: np.ndarray
    version: tuple[int, str]

    def __post_init__(self) -> None:
        self.row_of = {int(cid): row for row, cid in enumerate(self.call_ids.tolist())}

    def query_vector(self, text: str) -> sp.csr_matrix:
        """The query as a vector of the index's terms (expanded across languages)."""
        return sp.csr_matrix(self.model.transform_queries([Document(title=text)]), dtype=np.float32)

    def scores(self, query: sp.csr_matrix) -> np.ndarray:
        """The query's cosine similarity with every indexed call, by row."""
        if self.by_term.shape[1] == 0:
            return np.zeros(0, dtype=np.float32)
        return np.asarray((query @ self.by_term).toarray()[0], dtype=np.float32)

    def matched_terms(self, query: sp.csr_matrix, call_ids: list[int]) -> dict[int, set[str]]:
        """The terms (stems) each call shares with the query, its strongest first."""
        rows = [self.row_of[cid] for cid in call_ids if cid in self.row_of]
        found = self.model.top_columns(query, self.by_term, [0] * len(rows), rows, MATCHED_TERMS)
        out: dict[int, set[str]] = {}
        for row, columns in zip(rows, found, strict=True):
            stems: set[str] = set()
            for col, _ in columns:
                stems.update(self.model.vocabulary.term(col).split(" "))
            out[int(self.call_ids[row])] = stems
        return out


def calls_version(session: Session) -> tuple[int, str]:
    """What identifies the indexed state of the calls: their number and newest change."""
    count, newest = session.execute(
        select(func.count(FundingCall.id), func.max(FundingCall.last_changed_at)).where(
            FundingCall.withdrawn_at.is_(None)
        )
    ).one()
    return int(count or 0), str(newest or "")


def build_search_index(session: Session, model_factory: ModelFactory | None = None) -> SearchIndex:
    """Fit the text model on every call not withdrawn and keep their vectors."""
    version = calls_version(session)
    calls = load_live_calls(session)
    model = (model_factory or default_model_factory())()
    docs = [call_document(c) for c in calls]
    by_term = model.fit_transform(docs, by_term=True) if docs else sp.csr_matrix((0, 0))
    ids = np.fromiter((c.id for c in calls), dtype=np.int64, count=len(calls))
    return SearchIndex(model, sp.csr_matrix(by_term, dtype=np.float32), ids, version)


class SearchIndexHolder:
    """One search index per process, rebuilt when the stored calls have changed.

    Requests that arrive during a rebuild wait for it rather than each building their own.
    """

    def __init__(self, model_factory: ModelFactory | None = None) -> None:
        self._factory = model_factory
        self._index: SearchIndex | None = None
        self._lock = threading.Lock()

    def get(self, session: Session) -> SearchIndex:
        """The index for the calls as they are stored now."""
        version = calls_version(session)
        index = self._index
        if index is not None and index.version == version:
            return index
        with self._lock:
            if self._index is None or self._index.version != version:
                self._index = build_search_index(session, self._factory)
            return self._index


@dataclass(frozen=True)
class Hit:
    """One call in a result list, with the score and the words that made it match."""

    call: FundingCall
    score: float | None = None
    terms: frozenset[str] = frozenset()


@dataclass
class SearchResult:
    """A page of hits, the number of all hits and how many each filter choice leaves."""

    hits: list[Hit]
    total: int
    page: int
    per_page: int
    sort: str
    facets: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def search_calls(
    session: Session,
    flt: CallFilter,
    *,
    index: SearchIndex | Callable[[Session], SearchIndex] | None = None,
    sort: str = "",
    page: int = 1,
    per_page: int = 25,
    facets: bool = False,
    now: datetime | None = None,
    timezone: str = "Europe/Berlin",
) -> SearchResult:
    """The calls that pass ``flt``, ranked by relevance to its text (deadline first without
    text, or as ``sort`` says), one page of them, and optionally the filters' counts."""
    now = now or utcnow()
    query_text = flt.text.strip()
    sort = sort or ("relevance" if query_text else "deadline")
    offset = (page - 1) * per_page
    if not query_text:
        calls, total = sorted_calls(
            session, flt, sort="newest" if sort == "newest" else "deadline",
            limit=per_page, offset=offset, now=now, timezone=timezone,
        )  # fmt: skip
        counted = facet_counts(session, flt, now=now, timezone=timezone) if facets else {}
        return SearchResult([Hit(c) for c in calls], total, page, per_page, sort, _plain(counted))

    idx = index(session) if callable(index) else index or build_search_index(session)
    if len(idx.call_ids) == 0:
        return SearchResult([], 0, page, per_page, sort)
    query = idx.query_vector(query_text)
    scores = idx.scores(query)
    allowed = np.fromiter(filtered_call_ids(session, flt, now, timezone=timezone), dtype=np.int64)
    rows = np.fromiter((idx.row_of.get(int(c), -1) for c in allowed), dtype=np.int64)
    keep = rows >= 0
    allowed, rows = allowed[keep], rows[keep]
    matched = scores[rows] >= MIN_SCORE if len(rows) else np.zeros(0, dtype=bool)
    allowed, rows = allowed[matched], rows[matched]
    ranked_ids = _order(session, allowed, scores[rows], sort)
    page_ids = ranked_ids[offset : offset + per_page]
    terms = idx.matched_terms(query, page_ids)
    score_of = dict(zip(allowed.tolist(), scores[rows].tolist(), strict=True))
    hits = [
        Hit(call, score_of[call.id], frozenset(terms.get(call.id, ())))
        for call in calls_in_order(session, page_ids)
    ]
    counted = {}
    if facets:
        # Counted over every call the text matches, so a choice's count is what it would leave.
        text_matches = set(idx.call_ids[scores >= MIN_SCORE].tolist()) if len(scores) else set()
        counted = facet_counts(session, flt, within=text_matches, now=now, timezone=timezone)
    return SearchResult(hits, len(ranked_ids), page, per_page, sort, _plain(counted))


def _order(session: Session, ids: np.ndarray, scores: np.ndarray, sort: str) -> list[int]:
    """Matched call ids by score (best first, id on a tie), or by deadline or newest."""
    if sort == "relevance" or len(ids) == 0:
        return ids[np.lexsort((ids, -scores))].tolist()
    if sort == "newest":
        order = (FundingCall.first_seen_at.desc(), FundingCall.id.desc())
    else:
        order = (
            FundingCall.next_deadline_at.is_(None),
            FundingCall.next_deadline_at,
            FundingCall.id,
        )
    stmt = select(FundingCall.id).where(FundingCall.id.in_(ids.tolist())).order_by(*order)
    return list(session.scalars(stmt))


def _plain(counted: dict) -> dict[str, dict[str, int]]:  # type: ignore[type-arg]
    return {name: dict(counter) for name, counter in counted.items()}


def highlight(
    text: str, stems: frozenset[str], model: TextModel, language: str = ""
) -> list[tuple[str, bool]]:
    """``text`` cut into pieces, each marked True where its word has one of ``stems``.

    The template shows the marked pieces in ``<mark>``; the text itself stays escaped.
    """
    if not stems or not text:
        return [(text, False)]
    pieces: list[tuple[str, bool]] = []
    last = 0
    for match in _WORD.finditer(text):
        word_terms = model.analyzer.analyze(match.group(), language)
        if any(term in stems for term in word_terms):
            if match.start() > last:
                pieces.append((text[last : match.start()], False))
            pieces.append((match.group(), True))
            last = match.end()
    if last < len(text):
        pieces.append((text[last:], False))
    return pieces
