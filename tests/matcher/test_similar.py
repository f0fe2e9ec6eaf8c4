"""Similar calls: a call's nearest neighbours in the search index, open ones only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from matcher.search import build_search_index
from matcher.similar import similar_calls
from tests.storage.factories import make_call

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
DUE = NOW + timedelta(days=90)


def _corpus(session: Session) -> dict[str, int]:
    def call(title: str, text: str, due: datetime = DUE) -> int:
        return make_call(session, title=title, description_text=text, deadlines=[due]).id

    ids = {
        "twin": call("Town twinning", "Citizens of twinned towns meet in town twinning."),
        "twin2": call("Networks of towns", "Twinned towns form networks of town twinning."),
        "twin_closed": call(
            "Town twinning 2025",
            "Citizens of twinned towns meet in town twinning.",
            due=NOW - timedelta(days=40),
        ),
        "quantum": call("Quantum computing", "Quantum computers for European towns."),
        "robots": call("Robots in factories", "Manufacturing companies deploy robots."),
    }
    session.flush()
    return ids


def test_a_twinning_call_is_nearest_to_the_other_open_twinning_call(session: Session) -> None:
    ids = _corpus(session)
    index = build_search_index(session)
    found = [c.id for c in similar_calls(session, index, ids["twin"], now=NOW)]
    # Not itself, not the closed twin, not the robots (nothing in common); the quantum call
    # shares only "towns", so it comes after the other twinning call.
    assert found == [ids["twin2"], ids["quantum"]]


def test_closed_calls_are_never_suggested_but_can_be_the_starting_point(
    session: Session,
) -> None:
    ids = _corpus(session)
    index = build_search_index(session)
    assert ids["twin_closed"] not in [
        c.id for c in similar_calls(session, index, ids["twin"], limit=10, now=NOW)
    ]
    from_closed = similar_calls(session, index, ids["twin_closed"], limit=1, now=NOW)
    assert [c.id for c in from_closed] == [ids["twin"]]  # the same text, open


def test_a_call_not_in_the_index_has_no_similar_calls(session: Session) -> None:
    ids = _corpus(session)
    index = build_search_index(session)
    late = make_call(session, title="Town twinning too", deadlines=[DUE])
    assert similar_calls(session, index, late.id, now=NOW) == []
    assert similar_calls(session, index, 999_999, now=NOW) == []
    assert similar_calls(session, index, ids["twin"], limit=0, now=NOW) == []
