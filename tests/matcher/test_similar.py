"""Similar calls: the same machinery, call against calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from matcher.similar import build_call_index, similar_calls
from tests.storage.factories import make_call

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
DUE = datetime(2026, 9, 19, 15, 0, tzinfo=UTC)


def _corpus(session: Session) -> dict[str, int]:
    def call(title: str, text: str, **values: object) -> int:
        values.setdefault("deadlines", [DUE])
        return make_call(session, title=title, description_text=text, **values).id  # type: ignore[arg-type]

    ids = {
        "twin": call("Town twinning", "Citizens of twinned towns meet in town twinning."),
        "twin2": call("Networks of towns", "Twinned towns form networks of town twinning."),
        "twin_closed": call(
            "Town twinning 2025",
            "Citizens of twinned towns meet in town twinning.",
            deadlines=[NOW - timedelta(days=40)],
        ),
        "robots": call("Robots in factories", "Manufacturing companies deploy robots."),
        "de": call(
            "Städtepartnerschaften",
            "Begegnungen von Bürgerinnen und Bürgern in Städtepartnerschaften.",
            language="de",
        ),
    }
    session.flush()
    return ids


def test_similar_calls_find_the_like_and_never_the_call_itself(session: Session) -> None:
    ids = _corpus(session)
    found = [s.call_id for s in similar_calls(session, ids["twin"], now=NOW)]
    # The other open twinning calls, the German one included (through the glossary).
    assert set(found[:2]) == {ids["twin2"], ids["de"]}
    assert ids["twin"] not in found
    assert ids["robots"] not in found
    assert ids["twin_closed"] not in found  # closed calls are not suggested by default


def test_closed_calls_can_be_asked_about_and_included(session: Session) -> None:
    ids = _corpus(session)
    index = build_call_index(session, now=NOW)
    from_closed = [s.call_id for s in similar_calls(index, ids["twin_closed"], now=NOW)]
    assert from_closed[0] in {ids["twin"], ids["twin2"]}
    with_closed = [s.call_id for s in similar_calls(index, ids["twin"], include_closed=True)]
    assert ids["twin_closed"] in with_closed
    assert similar_calls(index, ids["twin"], n=1)[0].terms  # the words they share


def test_a_german_call_finds_english_ones(session: Session) -> None:
    ids = _corpus(session)
    found = [s.call_id for s in similar_calls(session, ids["de"], now=NOW)]
    assert found and found[0] in {ids["twin"], ids["twin2"]}


def test_unknown_call_is_a_clear_error(session: Session) -> None:
    _corpus(session)
    with pytest.raises(KeyError):
        similar_calls(session, 999_999, now=NOW)
