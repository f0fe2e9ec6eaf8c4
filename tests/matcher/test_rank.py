"""Ranking on small corpora whose right answer is obvious (order and membership)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from matcher.documents import Document
from matcher.eligibility import CallFacts, CallTable, ProfileFacts
from matcher.rank import RankSettings, rank_calls, rank_new_call
from matcher.runs import rank_corpus

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
DUE = datetime(2026, 9, 19, 15, 0, tzinfo=UTC)

CALLS = {
    1: Document(
        title="Climate mitigation in cities",
        description="Local authorities cut greenhouse gas emissions of public buildings "
        "through energy efficiency, renovation and climate neutrality plans.",
        language="en",
    ),
    2: Document(
        title="Town twinning and networks of towns",
        description="Citizens of twinned towns meet; town twinning projects strengthen "
        "European remembrance, solidarity and civic participation.",
        language="en",
    ),
    3: Document(
        title="Youth exchanges for young people",
        description="Groups of young people from different countries meet in youth "
        "exchanges on democracy, inclusion and participation of youth.",
        language="en",
    ),
    4: Document(
        title="Circular economy in manufacturing",
        description="Companies redesign products for reuse, repair and recycling of "
        "materials, reducing waste in industrial value chains.",
        language="en",
    ),
    5: Document(
        title="Energy renovation of school buildings",
        description="Municipalities renovate school buildings to cut energy use and "
        "greenhouse gas emissions.",
        language="en",
    ),
}
PROFILES = {
    101: Document(
        title="Climate-neutral public buildings",
        description="The city reduces greenhouse gas emissions of its buildings with energy "
        "efficiency and renovation.",
        language="en",
    ),
    102: Document(
        title="Twinned towns meet",
        description="Citizens of our twinned towns meet for town twinning days.",
        language="en",
    ),
    103: Document(
        title="Youth exchange",
        description="Young people from partner countries meet in a youth exchange.",
        language="en",
    ),
}


def _facts(call_id: int, **values: object) -> CallFacts:
    values.setdefault("next_deadline_at", DUE)
    values.setdefault("eligible_applicants", ("municipality", "ngo"))
    return CallFacts(call_id=call_id, **values)  # type: ignore[arg-type]


def _rank(
    call_facts: dict[int, CallFacts] | None = None,
    profile_facts: dict[int, ProfileFacts] | None = None,
    calls: dict[int, Document] | None = None,
    profiles: dict[int, Document] | None = None,
    **kwargs: object,
) -> dict[int, list[int]]:
    calls = calls or CALLS
    profiles = profiles or PROFILES
    call_facts = call_facts or {cid: _facts(cid) for cid in calls}
    profile_facts = profile_facts or {
        pid: ProfileFacts(profile_id=pid, applicant_type="municipality") for pid in profiles
    }
    ranking = rank_corpus(
        [calls[c] for c in call_facts],
        list(call_facts.values()),
        [profiles[p] for p in profile_facts],
        list(profile_facts.values()),
        NOW,
        **kwargs,  # type: ignore[arg-type]
    )
    return {
        pid: [hit.call_id for hit in hits]
        for pid, hits in zip(profile_facts, ranking.results, strict=True)
    }


def test_each_profile_gets_its_obvious_call_first() -> None:
    ranked = _rank()
    assert set(ranked[101][:2]) == {1, 5}  # the two calls about emissions of buildings
    assert ranked[102][0] == 2
    assert ranked[103][0] == 3


def test_unrelated_calls_stay_below_the_threshold() -> None:
    ranked = _rank()
    # Town twinning has nothing to do with circular manufacturing.
    assert 4 not in ranked[102]
    assert 4 not in ranked[103]


def test_ranking_is_deterministic_and_independent_of_input_order() -> None:
    first = _rank()
    again = _rank()
    shuffled_ids = list(CALLS)
    random.Random(7).shuffle(shuffled_ids)
    shuffled = _rank(call_facts={cid: _facts(cid) for cid in shuffled_ids})
    assert first == again == shuffled


def test_chunking_and_top_n_do_not_change_the_order() -> None:
    whole = _rank(settings=RankSettings(chunk_rows=128))
    one_by_one = _rank(settings=RankSettings(chunk_rows=1))
    top_one = _rank(settings=RankSettings(top_n=1, chunk_rows=2))
    assert whole == one_by_one
    assert top_one == {pid: calls[:1] for pid, calls in whole.items()}


def test_calls_due_within_the_lead_time_are_left_out() -> None:
    facts = {cid: _facts(cid) for cid in CALLS}
    facts[2] = _facts(2, next_deadline_at=NOW + timedelta(days=10))
    profiles = {
        102: ProfileFacts(profile_id=102, applicant_type="municipality", lead_time_days=28),
        103: ProfileFacts(profile_id=103, applicant_type="municipality", lead_time_days=7),
    }
    twin_docs = {102: PROFILES[102], 103: PROFILES[102]}
    ranked = _rank(call_facts=facts, profile_facts=profiles, profiles=twin_docs)
    assert 2 not in ranked[102]
    assert ranked[103][0] == 2


def test_rolling_calls_without_deadline_pass_the_lead_time() -> None:
    facts = {cid: _facts(cid) for cid in CALLS}
    facts[2] = _facts(2, next_deadline_at=None, deadline_model="rolling")
    assert _rank(call_facts=facts)[102][0] == 2


def test_applicant_and_region_filters_remove_calls() -> None:
    facts = {cid: _facts(cid) for cid in CALLS}
    facts[1] = _facts(1, eligible_applicants=("company",))
    facts[5] = _facts(5, regions=("DE-BY",))
    ranked = _rank(call_facts=facts)
    assert 1 not in ranked[101]
    assert 5 not in ranked[101]


def test_budget_fit_lifts_the_call_whose_grants_fit() -> None:
    same = Document(title="Youth exchanges", description="Young people meet in youth exchanges.")
    calls = {1: same, 2: same, 3: CALLS[4]}
    facts = {
        1: _facts(1, grant_min_eur=2_000_000, grant_max_eur=5_000_000),
        2: _facts(2, grant_min_eur=20_000, grant_max_eur=60_000),
        3: _facts(3),
    }
    profile = {
        103: ProfileFacts(
            profile_id=103,
            applicant_type="municipality",
            budget_min_eur=10_000,
            budget_max_eur=50_000,
        )
    }
    ranked = _rank(call_facts=facts, profile_facts=profile, calls=calls)
    # Without the budget the two identical calls tie and the lower id would win.
    assert ranked[103][:2] == [2, 1]


def test_excluded_calls_never_appear() -> None:
    excluded = [set(), {2}, set()]
    ranked = _rank(excluded=excluded)
    assert 2 not in ranked[102]
    assert ranked[101] == _rank()[101]


def test_german_profile_finds_english_calls() -> None:
    profile = {
        201: Document(
            title="Städtepartnerschaft",
            description="Bürgerbegegnungen mit unseren Partnerstädten im Rahmen der "
            "Städtepartnerschaft.",
            language="de",
        )
    }
    facts = {201: ProfileFacts(profile_id=201, applicant_type="municipality")}
    assert _rank(profile_facts=facts, profiles=profile)[201][0] == 2


def test_one_new_call_is_ranked_like_in_a_full_rematch() -> None:
    ids = list(CALLS)
    ranking = rank_corpus(
        [CALLS[c] for c in ids],
        [_facts(c) for c in ids],
        [PROFILES[p] for p in PROFILES],
        [ProfileFacts(profile_id=p, applicant_type="municipality") for p in PROFILES],
        NOW,
    )
    new = Document(
        title="Town twinning for citizens",
        description="Twinned towns and their citizens meet in town twinning projects.",
    )
    hits = rank_new_call(ranking.model, ranking.queries, ranking.profiles, new, _facts(99), NOW)
    assert hits, "the twinning profile should see the new twinning call"
    assert ranking.profiles[hits[0][0]].profile_id == 102
    ineligible = rank_new_call(
        ranking.model,
        ranking.queries,
        ranking.profiles,
        new,
        _facts(99, eligible_applicants=("company",)),
        NOW,
    )
    assert ineligible == []


def test_rank_calls_rejects_mismatched_inputs() -> None:
    ranking = rank_corpus(
        [CALLS[1]], [_facts(1)], [PROFILES[101]], [ProfileFacts(101, "municipality")], NOW
    )
    with pytest.raises(ValueError, match="query rows"):
        rank_calls(
            ranking.model,
            ranking.queries,
            ranking.by_term,
            CallTable([_facts(1)], NOW),
            [],
        )
    with pytest.raises(ValueError, match="call columns"):
        rank_calls(
            ranking.model,
            ranking.queries,
            ranking.by_term,
            CallTable([_facts(1), _facts(2)], NOW),
            ranking.profiles,
        )


def _reference_ranking(
    similarity: np.ndarray,
    table: CallTable,
    profiles: list[ProfileFacts],
    excluded: list[set[int]],
    settings: RankSettings,
) -> list[list[tuple[int, float, float]]]:
    """The ranking rules spelled out on a dense similarity matrix: every eligible,
    not excluded call at or above the gate, by score (similarity × factor), then call id."""
    out = []
    for i, profile in enumerate(profiles):
        mask = table.mask(profile)
        sims = similarity[i]
        scores = sims * mask.factor
        allowed = mask.eligible & (sims >= np.float32(settings.min_similarity))
        allowed &= ~np.isin(table.call_ids, list(excluded[i]))
        rows = np.flatnonzero(allowed)
        order = rows[np.lexsort((table.call_ids[rows], -scores[rows]))][: settings.top_n]
        out.append([(int(table.call_ids[r]), float(scores[r]), float(sims[r])) for r in order])
    return out


def test_compiled_ranking_equals_the_rules_on_a_dense_matrix() -> None:
    """The kernel ranks exactly as the rules say, ties included: many calls share one text
    (equal scores, ordered by id), some profiles exclude calls, filters and factors vary."""
    rng = random.Random(5)
    texts = list(CALLS.values())
    docs = [texts[i % len(texts)] for i in range(240)]  # every text 40 times: ties
    types = ["municipality", "ngo", "company"]
    calls = [
        CallFacts(
            call_id=1000 - i,  # ids run against rows, so the tie order is visible
            eligible_applicants=tuple(rng.sample(types, rng.randint(0, 2))),
            regions=rng.choice([(), ("EU",), ("DE-BY",)]),
            next_deadline_at=rng.choice([None, DUE, NOW + timedelta(days=30)]),
            grant_max_eur=rng.choice([None, 10_000, 500_000]),
        )
        for i in range(len(docs))
    ]
    queries = [texts[i % len(texts)] for i in range(20)]
    profiles = [
        ProfileFacts(
            profile_id=i,
            applicant_type=types[i % 3],
            lead_time_days=rng.choice([0, 28, 60]),
            budget_min_eur=rng.choice([None, 50_000]),
        )
        for i in range(len(queries))
    ]
    excluded = [set(rng.sample([c.call_id for c in calls], 15)) for _ in profiles]
    settings = RankSettings(top_n=30, min_similarity=0.05, chunk_rows=3)
    ranking = rank_corpus(docs, calls, queries, profiles, NOW, excluded=excluded, settings=settings)
    similarity = (ranking.queries @ ranking.by_term).toarray().astype(np.float32)
    expected = _reference_ranking(similarity, ranking.table, profiles, excluded, settings)
    got = [[(h.call_id, h.score, h.similarity) for h in ranked] for ranked in ranking.results]
    assert [[c for c, _, _ in r] for r in got] == [[c for c, _, _ in r] for r in expected]
    for mine, theirs in zip(got, expected, strict=True):
        assert [s for _, s, _ in mine] == pytest.approx([s for _, s, _ in theirs], abs=1e-6)
        assert [s for _, _, s in mine] == pytest.approx([s for _, _, s in theirs], abs=1e-6)
    assert sum(len(r) for r in got) > 100
    assert any(len(r) == settings.top_n for r in got)  # the top N cut applies
