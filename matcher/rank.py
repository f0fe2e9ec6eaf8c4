"""Ranking calls for profiles: text similarity, hard filters, soft factors, top N.

The score of a call for a profile is the cosine similarity of the profile's query vector
(``TextModel.transform_queries``, moved by feedback) and the call's document vector
(``TextModel.transform``), multiplied by the soft factors of ``matcher.eligibility``. A call
is listed only if it passes every hard filter, was not marked not relevant for the profile,
and its text similarity reaches ``RankSettings.min_similarity`` (the gate is on the text,
so soft factors reorder relevant calls but never make an irrelevant one appear).

Profiles are ranked a chunk at a time by a compiled kernel
(:func:`matcher.kernels.ranking.top_calls`) that keeps one dense similarity row per profile
and reduces it to the top N at once, so no profiles × calls matrix of scores ever exists.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from html import unescape

import numpy as np
import scipy.sparse as sp

from matcher.documents import Document
from matcher.eligibility import CallFacts, CallTable, ProfileFacts
from matcher.kernels.ranking import csr_arrays, top_calls
from matcher.vectorize import TextModel
from storage.models import FundingCall, Profile

_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class RankSettings:
    """How many calls to keep per profile, from what similarity, and how to chunk the work."""

    top_n: int = 50
    min_similarity: float = 0.05
    chunk_rows: int = 64  # profiles ranked at once (their masks over all calls are dense)
    explain_terms: int = 5

    def __post_init__(self) -> None:
        if self.top_n < 1:
            raise ValueError("top_n must be at least 1")
        if not 0.0 <= self.min_similarity < 1.0:
            raise ValueError("min_similarity must be in [0, 1)")
        if self.chunk_rows < 1:
            raise ValueError("chunk_rows must be at least 1")


@dataclass(frozen=True)
class RankedCall:
    """One call in a profile's ranking."""

    row: int  # row of the call in the call table and document matrix
    call_id: int
    score: float  # similarity × soft factors
    similarity: float
    eligibility_unknown: bool
    # The ranking's facts for the pair, which the explanation states.
    budget_fit: int  # ProfileMask.budget_fit code
    tight: bool  # deadline tight


def _plain(html: str) -> str:
    return unescape(_TAG.sub(" ", html or ""))


def call_document(call: FundingCall) -> Document:
    """The text of a call as the matcher reads it (programme names count as keywords)."""
    keywords = [*(call.keywords or ()), call.programme or "", call.type_of_action or ""]
    return Document(
        title=call.title or "",
        summary=call.summary or "",
        description=call.description_text or _plain(call.description),
        keywords="; ".join(k for k in keywords if k),
        language=call.language or "",
    )


def profile_document(profile: Profile) -> Document:
    """The text of a profile as a query: name, themes, description, department, keywords."""
    organisation = profile.department or profile.legal_form or ""
    description = profile.description or ""
    if organisation:
        description = f"{description}\n{organisation}"
    return Document(
        title=profile.name or "",
        summary="; ".join(profile.themes or ()),
        description=description,
        keywords="; ".join(profile.keywords or ()),
        language=profile.language or "",
    )


def _excluded_rows(table: CallTable, call_ids: Collection[int]) -> np.ndarray:
    if not call_ids:
        return np.zeros(0, dtype=np.int64)
    wanted = np.fromiter(call_ids, dtype=np.int64)
    return np.flatnonzero(np.isin(table.call_ids, wanted))


def rank_calls(
    model: TextModel,
    queries: sp.csr_matrix,
    by_term: sp.csr_matrix,
    table: CallTable,
    profiles: Sequence[ProfileFacts],
    *,
    excluded: Sequence[Collection[int]] | None = None,
    settings: RankSettings | None = None,
) -> list[list[RankedCall]]:
    """The ranking of every profile: eligible calls above the threshold, best first.

    ``queries`` has one row per profile (same order as ``profiles``); ``by_term`` holds the
    calls' vectors as terms × calls (one column per call of ``table``, see
    ``TextModel.fit_index``). ``excluded`` holds, per profile, call
    ids that must never be listed (marked not relevant). Ties are broken by call id, so the
    result is deterministic.
    """
    settings = settings or RankSettings()
    n_calls = len(table)
    if queries.shape[0] != len(profiles):
        raise ValueError(f"{queries.shape[0]} query rows for {len(profiles)} profiles")
    if by_term.shape[1] != n_calls:
        raise ValueError(f"{by_term.shape[1]} call columns for {n_calls} calls")
    if n_calls == 0:
        return [[] for _ in profiles]
    keep = min(settings.top_n, n_calls)
    by_term = sp.csr_matrix(by_term, dtype=np.float32)
    queries = sp.csr_matrix(queries, dtype=np.float32)
    gate = np.float32(max(settings.min_similarity, 1e-9))

    def rank_chunk(start: int) -> list[list[RankedCall]]:
        stop = min(start + settings.chunk_rows, len(profiles))
        eligible = np.empty((stop - start, n_calls), dtype=bool)
        factor = np.empty((stop - start, n_calls), dtype=np.float32)
        blocked: list[np.ndarray] = []
        stated = []  # per profile: the mask's budget fit and tight deadline, for explanations
        for offset in range(stop - start):
            mask = table.mask(profiles[start + offset])
            stated.append((mask.budget_fit, mask.tight))
            eligible[offset] = mask.eligible
            factor[offset] = mask.factor
            calls_out = excluded[start + offset] if excluded is not None else ()
            blocked.append(_excluded_rows(table, calls_out))
        blocked_indptr = np.zeros(len(blocked) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in blocked], out=blocked_indptr[1:])
        rows = np.empty((stop - start, keep), dtype=np.int64)
        scores = np.empty((stop - start, keep), dtype=np.float32)
        similarity = np.empty((stop - start, keep), dtype=np.float32)
        top_calls(
            csr_arrays(queries),
            csr_arrays(by_term),
            start,
            eligible,
            factor,
            blocked_indptr,
            np.concatenate(blocked) if blocked else np.zeros(0, dtype=np.int64),
            table.call_ids,
            gate,
            rows,
            scores,
            similarity,
        )

        def listed(offset: int, found: np.ndarray) -> list[RankedCall]:
            used = rows[offset][found]
            return [
                RankedCall(row, call_id, score, sim, unknown, fit, tight)
                for row, call_id, score, sim, unknown, fit, tight in zip(
                    used.tolist(),
                    table.call_ids[used].tolist(),
                    scores[offset][found].tolist(),
                    similarity[offset][found].tolist(),
                    table.unknown[used].tolist(),
                    stated[offset][0][used].tolist(),
                    stated[offset][1][used].tolist(),
                    strict=True,
                )
            ]

        return [listed(offset, rows[offset] >= 0) for offset in range(stop - start)]

    starts = range(0, len(profiles), settings.chunk_rows)
    if len(starts) == 1:
        return rank_chunk(0)
    # Chunks on threads: the kernel releases the GIL.
    with ThreadPoolExecutor(max_workers=model.parallelism.threads) as pool:
        return [ranking for chunk in pool.map(rank_chunk, starts) for ranking in chunk]


def rank_new_call(
    model: TextModel,
    queries: sp.csr_matrix,
    profiles: Sequence[ProfileFacts],
    document: Document,
    facts: CallFacts,
    now: datetime,
    *,
    settings: RankSettings | None = None,
) -> list[tuple[int, RankedCall]]:
    """Rank ONE new call against all profiles (e.g. right after a crawl stored it).

    Returns ``(profile index, RankedCall)`` for every profile for which the call passes the
    filters and the text gate, best score first. It does not re-fit the model: the call is
    read with the vocabulary and weights of the last full re-match.
    """
    settings = settings or RankSettings()
    vector = model.transform_calls([document])
    similarity = (queries @ vector.T).toarray()[:, 0].astype(np.float32)
    table = CallTable([facts], now)
    hits: list[tuple[int, RankedCall]] = []
    for i in np.flatnonzero(similarity >= max(settings.min_similarity, 1e-9)).tolist():
        mask = table.mask(profiles[i])
        if mask.eligible[0]:
            sim = float(similarity[i])
            hit = RankedCall(
                0,
                facts.call_id,
                sim * float(mask.factor[0]),
                sim,
                bool(mask.unknown[0]),
                int(mask.budget_fit[0]),
                bool(mask.tight[0]),
            )
            hits.append((i, hit))
    hits.sort(key=lambda hit: (-hit[1].score, profiles[hit[0]].profile_id))
    return hits
