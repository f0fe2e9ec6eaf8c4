"""A re-match: rank the rankable calls for active profiles and store the result.

``rematch`` is what the scheduler calls after each crawl and the web app calls when a
profile is edited. It works inside the caller's transaction (sessions are opened at the
edge) and never raises for a failed ranking: the failure is recorded on the ``MatchRun``,
the old matches stay (their replacement runs in a savepoint), and the caller commits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sqlalchemy.orm import Session

from matcher.documents import Document
from matcher.eligibility import (
    CallFacts,
    CallTable,
    ProfileFacts,
    call_facts,
    eligible_verdict,
    profile_facts,
)
from matcher.explain import call_fields, explanation
from matcher.feedback import ALPHA, BETA, GAMMA, FeedbackVectors, apply_feedback
from matcher.params import Parallelism
from matcher.rank import RankedCall, RankSettings, call_document, profile_document, rank_calls
from matcher.terms import bridge_words, surface_words, term_text, top_column_arrays
from matcher.vectorize import TextModel
from storage.matching import (
    ProfileFeedback,
    finish_match_run,
    load_active_profiles,
    load_calls,
    load_rankable_calls,
    read_feedback,
    replace_matches,
    start_match_run,
)
from storage.models import FundingCall, MatchRun, utcnow

log = logging.getLogger(__name__)

ModelFactory = Callable[[], TextModel]

# What earlier releases kept in the index folder (an analysis cache, words, reference counts);
# nothing reads them now, and the cache could take hundreds of megabytes.
_OLD_FILES = ("analysis.npz", "fitted.npz", "words.npz", "reference.npz")


def default_model_factory(
    dictionary_path: str | Path | None = None,
    parallelism: Parallelism | None = None,
    index_folder: str | Path | None = None,
) -> ModelFactory:
    """A factory for the production text model: glossary on, freedict at ``dictionary_path``.

    Pass ``Settings.freedict_path``; a dictionary that is not installed is skipped by the
    model (with a warning), so matching works without it.
    ``index_folder``: see :class:`~matcher.vectorize.TextModel`.
    """
    path = str(dictionary_path) if dictionary_path else None

    def factory() -> TextModel:
        return TextModel(
            glossary=True, dictionary_path=path, parallelism=parallelism, index_folder=index_folder
        )

    return factory


@dataclass
class Ranking:
    """Everything a ranking produced, kept for explanations and for similar calls."""

    model: TextModel
    queries: sp.csr_matrix
    by_term: sp.csr_matrix  # the calls' vectors, terms x calls
    table: CallTable
    profiles: list[ProfileFacts]
    results: list[list[RankedCall]]


def rank_corpus(
    call_docs: Sequence[Document],
    calls: Sequence[CallFacts],
    profile_docs: Sequence[Document],
    profiles: Sequence[ProfileFacts],
    now: datetime,
    *,
    model_factory: ModelFactory | None = None,
    feedback: Sequence[FeedbackVectors | None] | None = None,
    feedback_docs: Callable[[TextModel], Sequence[FeedbackVectors | None]] | None = None,
    excluded: Sequence[set[int]] | None = None,
    settings: RankSettings | None = None,
) -> Ranking:
    """The whole matcher pipeline in memory: fit, transform, feedback, filters, top N.

    ``feedback_docs`` builds the feedback vectors once the model is fitted (the reviewed
    calls must be read with the fitted vocabulary); ``feedback`` passes them ready-made.
    """
    model = (model_factory or default_model_factory())()
    by_term = model.fit_index(call_docs)
    queries = model.transform_queries(list(profile_docs))
    vectors = feedback_docs(model) if feedback_docs is not None else feedback
    if vectors is not None:
        queries = apply_feedback(queries, vectors)
    table = CallTable(calls, now)
    results = rank_calls(
        model, queries, by_term, table, profiles, excluded=excluded, settings=settings
    )
    return Ranking(model, queries, by_term, table, list(profiles), results)


def _feedback_vectors(
    model: TextModel,
    order: Sequence[int],
    feedback: dict[int, ProfileFeedback],
    calls_by_id: dict[int, FundingCall],
) -> list[FeedbackVectors | None]:
    ids = sorted({cid for fb in feedback.values() for cid in fb.relevant | fb.not_relevant})
    ids = [cid for cid in ids if cid in calls_by_id]
    if not ids:
        return [None] * len(order)
    matrix = model.transform_calls([call_document(calls_by_id[cid]) for cid in ids])
    row_of = {cid: i for i, cid in enumerate(ids)}
    vectors: list[FeedbackVectors | None] = []
    for profile_id in order:
        fb = feedback.get(profile_id)
        if fb is None:
            vectors.append(None)
            continue
        relevant = [row_of[c] for c in sorted(fb.relevant) if c in row_of]
        rejected = [row_of[c] for c in sorted(fb.not_relevant) if c in row_of]
        vectors.append(
            FeedbackVectors(
                relevant=matrix[relevant] if relevant else None,
                not_relevant=matrix[rejected] if rejected else None,
            )
        )
    return vectors


def match_rows(
    ranking: Ranking,
    call_docs: Sequence[Document],
    *,
    terms: int = 5,
    feedback: Sequence[tuple[int, int]] | None = None,
) -> list[dict[str, Any]]:
    """The match rows of a ranking (profile, call, score, rank, explanation), ready to store.

    The explaining terms of all pairs come from one compiled pass, and the calls' own words
    for them from one vectorised pass over the matched calls' texts, so explaining needs no
    tokenisation in Python per match. The profile's own word for a term
    the bilingual bridge reached is looked up once per (profile, term).
    """
    model, facts = ranking.model, ranking.table.facts
    lengths = [len(ranked) for ranked in ranking.results]
    call_rows = np.fromiter(
        (hit.row for ranked in ranking.results for hit in ranked),
        dtype=np.int64,
        count=sum(lengths),
    )
    query_rows = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    columns, values = top_column_arrays(
        model, ranking.queries, ranking.by_term, query_rows, call_rows, terms
    )
    # Each (call, term) is named once, however many profiles it explains.
    width = max(1, ranking.by_term.shape[0])
    listed = columns >= 0
    keys = np.broadcast_to(call_rows[:, None], columns.shape) * width + columns
    distinct, inverse = np.unique(keys[listed], return_inverse=True)
    key_rows, key_cols = (part.tolist() for part in np.divmod(distinct, width))
    term_of = {col: model.vocabulary.term(col) for col in set(key_cols)}
    stems_of = {col: term.split(" ") for col, term in term_of.items()}
    wanted: dict[int, set[str]] = {}
    for row, col in zip(key_rows, key_cols, strict=True):
        wanted.setdefault(row, set()).update(stems_of[col])
    rows_read = sorted(wanted)
    texts = [call_docs[r] for r in rows_read]
    found = surface_words(model, texts, [wanted[r] for r in rows_read])
    words = dict(zip(rows_read, found, strict=True))
    names = [
        term_text(model, c, words[r], term_of[c]) for r, c in zip(key_rows, key_cols, strict=True)
    ]
    # Every listed (pair, term) as [word, weight]: a pair's terms lead its row of
    # ``columns`` (padding follows), so in row order each pair's terms are one slice.
    # Rounded as round(weight, 4) would: a float32 times 10**4 is exact in float64, so
    # rint and the division give the same nearest double, without a call per weight.
    weights = np.round(values[listed].astype(np.float64), 4).tolist()
    named = [[names[k], w] for k, w in zip(inverse.tolist(), weights, strict=True)]
    bridges = model.query_bridges
    if bridges is not None and len(bridges) == ranking.queries.shape[0]:
        # The queries ranked are those the model read last (feedback keeps their rows).
        pair_keys = np.broadcast_to(query_rows[:, None], columns.shape) * width + columns
        pairs, pair_of = np.unique(pair_keys[listed], return_inverse=True)
        sources = bridge_words(model, *np.divmod(pairs, width))
        bridged = np.fromiter((s is not None for s in sources), dtype=bool, count=len(sources))
        listed_bridged = bridged[pair_of]
        for at, pair in zip(
            np.flatnonzero(listed_bridged).tolist(), pair_of[listed_bridged].tolist(), strict=True
        ):
            named[at].extend(sources[pair])  # [word, weight, profile word, its language]
    ends = np.cumsum(listed.sum(axis=1)).tolist()
    shared = {row: call_fields(facts[row]) for row in set(call_rows.tolist())}
    rows: list[dict[str, Any]] = []
    at = 0
    for i, (pf, ranked) in enumerate(zip(ranking.profiles, ranking.results, strict=True)):
        reviews = feedback[i] if feedback is not None else (0, 0)
        for rank, hit in enumerate(ranked, start=1):
            # Cached: the pairs' verdicts take a handful of distinct values.
            verdict = eligible_verdict(hit.eligibility_unknown, hit.budget_fit, hit.tight)
            rows.append(
                {
                    "profile_id": pf.profile_id,
                    "call_id": hit.call_id,
                    "score": hit.score,
                    "rank": rank,
                    "eligibility_unknown": hit.eligibility_unknown,
                    "explanation": explanation(
                        pf,
                        verdict,
                        shared[hit.row],
                        score=hit.score,
                        similarity=hit.similarity,
                        terms=named[ends[at - 1] if at else 0 : ends[at]],
                        feedback=reviews,
                    ),
                }
            )
            at += 1
    return rows


def compute_matches(
    session: Session,
    *,
    profile_ids: Sequence[int] | None = None,
    now: datetime | None = None,
    settings: RankSettings | None = None,
    model_factory: ModelFactory | None = None,
) -> tuple[list[dict[str, Any]], int, int]:
    """Rank from the database without writing: (match rows, profiles count, calls count)."""
    now = now or utcnow()
    settings = settings or RankSettings()
    profiles = load_active_profiles(session, profile_ids)
    calls = load_rankable_calls(session, now)
    if not profiles or not calls:
        return [], len(profiles), len(calls)
    feedback = read_feedback(session, [p.id for p in profiles])
    calls_by_id = {c.id: c for c in calls}
    reviewed = {cid for fb in feedback.values() for cid in fb.relevant | fb.not_relevant}
    # Reviewed calls that have closed since still teach the query what the desk wants.
    calls_by_id.update({c.id: c for c in load_calls(session, reviewed - set(calls_by_id))})
    facts = [call_facts(c, now) for c in calls]
    pfacts = [profile_facts(p) for p in profiles]
    order = [p.id for p in profiles]
    call_docs = [call_document(c) for c in calls]
    ranking = rank_corpus(
        call_docs,
        facts,
        [profile_document(p) for p in profiles],
        pfacts,
        now,
        model_factory=model_factory,
        feedback_docs=lambda model: _feedback_vectors(model, order, feedback, calls_by_id),
        excluded=[feedback[p.id].not_relevant if p.id in feedback else set() for p in profiles],
        settings=settings,
    )
    counts = [
        (len(fb.relevant), len(fb.not_relevant))
        for fb in (feedback.get(p.id, ProfileFeedback()) for p in profiles)
    ]
    rows = match_rows(ranking, call_docs, terms=settings.explain_terms, feedback=counts)
    return rows, len(profiles), len(calls)


def rematch(
    session: Session,
    *,
    trigger: str,
    profile_ids: Sequence[int] | None = None,
    now: datetime | None = None,
    settings: RankSettings | None = None,
    model_factory: ModelFactory | None = None,
    dictionary_path: str | Path | None = None,
    index_folder: str | Path | None = None,
) -> MatchRun:
    """Re-rank and replace the matches (all, or only those of ``profile_ids``).

    Callers pass ``dictionary_path=settings.freedict_path`` (or a ``model_factory``); without
    either, queries are expanded with the glossary only. ``index_folder`` (production:
    ``settings.matcher_path``) keeps the parsed dictionary index between runs.

    Adds a ``MatchRun`` (trigger, counts, duration, outcome) to the session and returns it.
    On any error the run is marked ``failed`` with the error in ``parameters["error"]`` and
    the previous matches are kept. Other profiles' matches are never touched when
    ``profile_ids`` is given. The caller commits.
    """
    settings = settings or RankSettings()
    model_factory = model_factory or default_model_factory(
        dictionary_path, index_folder=index_folder
    )
    if index_folder is not None:
        for name in _OLD_FILES:
            (Path(index_folder) / name).unlink(missing_ok=True)
    started = time.perf_counter()
    run = start_match_run(
        session,
        trigger=trigger,
        parameters={
            "top_n": settings.top_n,
            "min_similarity": settings.min_similarity,
            "rocchio": {"alpha": ALPHA, "beta": BETA, "gamma": GAMMA},
            "profile_ids": list(profile_ids) if profile_ids is not None else None,
        },
    )
    profiles_count = calls_count = 0
    try:
        # A savepoint around the reads too: a database error rolls back to here, and the
        # failed run can still be recorded in the caller's transaction.
        with session.begin_nested():
            rows, profiles_count, calls_count = compute_matches(
                session,
                profile_ids=profile_ids,
                now=now,
                settings=settings,
                model_factory=model_factory,
            )
            stored = replace_matches(session, run, rows, profile_ids=profile_ids)
    except Exception as exc:
        log.exception("match run %s failed; the previous matches stay", run.id)
        return finish_match_run(
            session,
            run,
            outcome="failed",
            profiles_count=profiles_count,
            calls_count=calls_count,
            matches_count=0,
            duration_seconds=time.perf_counter() - started,
            error=f"{type(exc).__name__}: {exc}",
        )
    return finish_match_run(
        session,
        run,
        outcome="succeeded",
        profiles_count=profiles_count,
        calls_count=calls_count,
        matches_count=stored,
        duration_seconds=time.perf_counter() - started,
    )
