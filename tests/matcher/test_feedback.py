"""Relevance feedback: not relevant never returns; reviews move the query (Rocchio)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import scipy.sparse as sp
from sqlalchemy.orm import Session

from matcher.feedback import FeedbackVectors, apply_feedback, rocchio
from matcher.runs import rematch
from storage.matching import matches_for_profile
from storage.models import Review
from tests.storage.factories import make_call, make_profile

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
DUE = datetime(2026, 9, 19, 15, 0, tzinfo=UTC)


def _row(values: list[float]) -> sp.csr_matrix:
    vector = np.asarray(values, dtype=np.float32)
    return sp.csr_matrix(vector / np.linalg.norm(vector))


def test_rocchio_moves_toward_relevant_and_away_from_not_relevant() -> None:
    query = _row([1.0, 1.0, 0.0, 0.0])
    relevant = _row([0.0, 1.0, 1.0, 0.0])
    rejected = _row([1.0, 0.0, 0.0, 1.0])
    moved = rocchio(query, FeedbackVectors(relevant=relevant, not_relevant=rejected))
    dense = moved.toarray()[0]
    assert np.isclose(np.linalg.norm(dense), 1.0)
    assert (dense >= 0).all()  # negative weights are clipped
    assert dense[3] == 0.0  # a word only the rejected call has gains nothing
    assert (moved @ relevant.T).toarray()[0, 0] > (query @ relevant.T).toarray()[0, 0]
    assert (moved @ rejected.T).toarray()[0, 0] < (query @ rejected.T).toarray()[0, 0]


def test_rocchio_keeps_the_query_if_nothing_would_remain() -> None:
    query = _row([1.0, 0.0])
    moved = rocchio(query, FeedbackVectors(not_relevant=_row([1.0, 0.0])), alpha=0.1, gamma=1.0)
    assert (moved != query).nnz == 0


def test_apply_feedback_leaves_rows_without_feedback_alone() -> None:
    queries = sp.vstack([_row([1.0, 0.0, 0.0]), _row([0.0, 1.0, 0.0])], format="csr")
    moved = apply_feedback(queries, [None, FeedbackVectors(relevant=_row([0.0, 0.0, 1.0]))])
    assert (moved[0] != queries[0]).nnz == 0
    assert moved[1].toarray()[0, 2] > 0


def _mobility_corpus(session: Session) -> dict[str, int]:
    ids = {}
    ids["cycling"] = make_call(
        session,
        title="Urban mobility in the city: cycling lanes",
        description_text="Cities build cycling lanes and improve public transport for urban "
        "mobility.",
        deadlines=[DUE],
    ).id
    ids["air"] = make_call(
        session,
        title="Clean air: air quality monitoring",
        description_text="Sensor networks monitor air quality and air pollution in streets.",
        deadlines=[DUE],
    ).id
    ids["sensors"] = make_call(
        session,
        title="Air pollution sensors for streets",
        description_text="Low-cost sensors measure air pollution and air quality; open data "
        "on pollution in the city.",
        deadlines=[NOW - timedelta(days=30)],  # closed: still teaches the query
    ).id
    ids["profile"] = make_profile(
        session,
        "mobil",
        name="Urban mobility and clean air",
        description="The city wants better urban mobility, more cycling and cleaner air.",
        language="en",
    ).id
    session.flush()
    return ids


def _order(session: Session, profile_id: int) -> list[int]:
    return [m.call_id for m in matches_for_profile(session, profile_id)]


def test_marking_a_call_relevant_lifts_similar_calls(session: Session) -> None:
    ids = _mobility_corpus(session)
    rematch(session, trigger="manual", now=NOW)
    before = _order(session, ids["profile"])
    assert before.index(ids["cycling"]) < before.index(ids["air"])
    session.add(Review(profile_id=ids["profile"], call_id=ids["sensors"], status="shortlisted"))
    session.flush()
    rematch(session, trigger="review", now=NOW)
    after = _order(session, ids["profile"])
    assert after.index(ids["air"]) < after.index(ids["cycling"])
    air = matches_for_profile(session, ids["profile"])[0]
    assert air.explanation["feedback"] == {"relevant": 1, "not_relevant": 0}


def test_a_call_marked_not_relevant_never_returns(session: Session) -> None:
    ids = _mobility_corpus(session)
    other = make_profile(
        session,
        "mobil-2",
        name="Cycling and clean air",
        description="Cycling lanes and clean air in the city.",
        language="en",
    )
    rematch(session, trigger="manual", now=NOW)
    assert ids["cycling"] in _order(session, ids["profile"])
    session.add(Review(profile_id=ids["profile"], call_id=ids["cycling"], status="not_relevant"))
    session.flush()
    for trigger in ("review", "crawl", "manual"):
        rematch(session, trigger=trigger, now=NOW)
        assert ids["cycling"] not in _order(session, ids["profile"])
    rematch(session, trigger="profile", profile_ids=[ids["profile"]], now=NOW)
    assert ids["cycling"] not in _order(session, ids["profile"])
    # Only for that profile: another profile still sees the call.
    assert ids["cycling"] in _order(session, other.id)
