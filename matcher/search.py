"""Public search: a query ranked over the stored calls with the matcher's own analysis.

The query is read as the matcher reads a profile (``TextModel.transform_queries``): stems,
umlaut folding, compounds and the German–English glossary, so "Jugendaustausch Polen" finds
English Erasmus+ calls. With a query, the filters, their counts and the order are worked
out on the facts the index keeps of each call (``matcher.search_facts``, storage's
definitions over arrays); without one they are SQL (``storage.call_filters``).

The index follows the calls: :class:`SearchIndexHolder` rebuilds it when the stored calls
change (their number or their newest change), looked at every few seconds rather than on
every request, so a crawl's calls are searchable shortly after it without a restart.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import scipy.sparse as sp
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matcher.documents import Document
from matcher.rank import call_document
from matcher.runs import ModelFactory, default_model_factory
from matcher.search_facts import CallFacts
from matcher.terms import top_columns
from matcher.vectorize import TextModel
from storage.call_filters import (
    CallFilter,
    calls_in_order,
    facet_counts,
    sorted_calls,
)
from storage.matching import load_live_calls
from storage.models import FundingCall, utcnow

MIN_SCORE = 0.02  # below this a call shares no more than a stray n-gram with the query
MATCHED_TERMS = 8
VERSION_CHECK_SECONDS = 5.0  # how long a crawl's changes may take to become searchable
_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")


class TermRows:
    """The calls' vectors by term (terms × calls), their weights in half precision and their
    call numbers in 16 bits where there are few enough calls: a quarter of the float32 matrix
    less per web worker each. A query widens only the rows of its own terms to float32."""

    def __init__(self, matrix: sp.csr_matrix) -> None:
        self.shape = matrix.shape
        self.indptr = matrix.indptr.astype(np.int64)
        small = matrix.shape[1] <= np.iinfo(np.uint16).max + 1
        self.indices = matrix.indices.astype(np.uint16 if small else np.int32)
        self.data = matrix.data.astype(np.float16)

    def rows(self, terms: np.ndarray) -> sp.csr_matrix:
        """The rows of ``terms`` (sorted, distinct) as a float32 len(terms) × calls matrix."""
        starts = self.indptr[terms]
        lengths = self.indptr[terms + 1] - starts
        indptr = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        take = np.arange(indptr[-1]) - np.repeat(indptr[:-1] - starts, lengths)
        data, indices = self.data[take].astype(np.float32), self.indices[take].astype(np.int32)
        return sp.csr_matrix((data, indices, indptr), shape=(len(terms), self.shape[1]))


def _compact(query: sp.csr_matrix, limit: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """A one-row query on its own terms below column ``limit`` only, and those terms."""
    query = sp.csr_matrix(query[:1], dtype=np.float32)
    query.sum_duplicates()
    keep = query.indices < limit
    terms = query.indices[keep].astype(np.int64)
    weights = query.data[keep]
    order = np.argsort(terms)
    terms, weights = terms[order], weights[order]
    compact = sp.csr_matrix(
        (weights, np.arange(len(terms), dtype=np.int32), np.array([0, len(terms)])),
        shape=(1, len(terms)),
    )
    return compact, terms


@dataclass
class SearchIndex:
    """A text model fitted on the stored calls, their vectors (terms × calls) and the facts
    the filters read, row for row."""

    model: TextModel
    by_term: TermRows
    call_ids: np.ndarray
    version: tuple[int, str]
    facts: CallFacts

    def __post_init__(self) -> None:
        self.row_of = {int(cid): row for row, cid in enumerate(self.call_ids.tolist())}

    def query_vector(self, text: str) -> sp.csr_matrix:
        """The query as a vector of the index's terms (expanded across languages)."""
        return sp.csr_matrix(self.model.transform_queries([Document(title=text)]), dtype=np.float32)

    def scores(self, query: sp.csr_matrix) -> np.ndarray:
        """The query's cosine similarity with every indexed call, by row."""
        if self.by_term.shape[1] == 0:
            return np.zeros(0, dtype=np.float32)
        compact, terms = _compact(query, self.by_term.shape[0])
        return np.asarray((compact @ self.by_term.rows(terms)).toarray()[0], dtype=np.float32)

    def matched_terms(self, query: sp.csr_matrix, call_ids: list[int]) -> dict[int, set[str]]:
        """The terms (stems) each call shares with the query, its strongest first."""
        rows = [self.row_of[cid] for cid in call_ids if cid in self.row_of]
        # The word block alone, renumbered in order, so the model reads a small matrix.
        compact, terms = _compact(query, len(self.model.vocabulary))
        found = top_columns(
            self.model, compact, self.by_term.rows(terms), [0] * len(rows), rows, MATCHED_TERMS
        )
        out: dict[int, set[str]] = {}
        for row, columns in zip(rows, found, strict=True):
            stems: set[str] = set()
            for col, _ in columns:
                stems.update(self.model.vocabulary.term(int(terms[col])).split(" "))
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
    by_term = model.fit_index(docs) if docs else sp.csr_matrix((0, 0))
    facts = CallFacts(calls)
    matrix = TermRows(sp.csr_matrix(by_term, dtype=np.float32))
    return SearchIndex(model, matrix, facts.ids, version, facts)


class SearchIndexHolder:
    """One search index per process, rebuilt when the stored calls have changed.

    The calls' version is asked at most every ``check_every`` seconds: asking costs a pass
    over the calls, too much for every request. Requests that arrive during a rebuild wait
    for it rather than each building their own.
    """

    def __init__(
        self,
        model_factory: ModelFactory | None = None,
        *,
        check_every: float = VERSION_CHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._factory = model_factory
        self._index: SearchIndex | None = None
        self._lock = threading.Lock()
        self._check_every = check_every
        self._clock = clock
        self._checked = 0.0

    def get(self, session: Session) -> SearchIndex:
        """The index for the calls as they were stored at most ``check_every`` seconds ago."""
        index = self._index
        if index is not None and self._clock() - self._checked < self._check_every:
            return index
        version = calls_version(session)
        if index is not None and index.version == version:
            self._checked = self._clock()
            return index
        with self._lock:
            if self._index is None or self._index.version != version:
                self._index = build_search_index(session, self._factory)
            self._checked = self._clock()
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
    # The index holds no withdrawn calls: a search that asks for them, or a caller without an
    # index, is answered by SQL; every other search filters and counts on the index's facts.
    if not query_text and (index is None or "withdrawn" in flt.statuses):
        calls, total = sorted_calls(
            session, flt, sort="newest" if sort == "newest" else "deadline",
            limit=per_page, offset=offset, now=now, timezone=timezone,
        )  # fmt: skip
        counted = facet_counts(session, flt, now=now, timezone=timezone) if facets else {}
        return SearchResult([Hit(c) for c in calls], total, page, per_page, sort, _plain(counted))

    idx = index(session) if callable(index) else index or build_search_index(session)
    if len(idx.call_ids) == 0:
        return SearchResult([], 0, page, per_page, sort)
    if query_text:
        query = idx.query_vector(query_text)
        scores = idx.scores(query)
        text_matches = scores >= MIN_SCORE
    else:
        query, scores = None, np.zeros(len(idx.call_ids), dtype=np.float32)
        text_matches = np.ones(len(idx.call_ids), dtype=bool)
    masks = idx.facts.masks(flt, now, timezone)
    kept = text_matches.copy()
    for mask in masks.values():
        kept &= mask
    rows = np.flatnonzero(kept)
    order = sort if query_text or sort != "relevance" else "deadline"
    page_rows = idx.facts.order(rows, scores, order, offset + per_page)[offset:]
    page_ids = idx.call_ids[page_rows].tolist()
    if query is None:
        hits = [Hit(call) for call in calls_in_order(session, page_ids)]
    else:
        terms = idx.matched_terms(query, page_ids)
        score_of = dict(zip(page_ids, scores[page_rows].tolist(), strict=True))
        hits = [
            Hit(call, score_of[call.id], frozenset(terms.get(call.id, ())))
            for call in calls_in_order(session, page_ids)
        ]
    # Counted over every call the text matches, so a choice's count is what it would leave.
    counted = idx.facts.counts(masks, text_matches, now) if facets else {}
    return SearchResult(hits, len(rows), page, per_page, sort, counted)


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
