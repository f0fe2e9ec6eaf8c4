"""The rankings and explanations the matcher gives today, frozen.

Two corpora: the demo snapshot's rankable calls with the shipped example profiles (frozen as
the matcher reads them in ``tests/data/matcher/golden/snapshot_corpus.json.gz``), and 3,000
calls with 40 profiles of the bench corpus. A change to the matcher that moves a ranking or
an explaining word fails here; if the move is intended, regenerate the expected files with
``python -m tests.matcher.test_golden_rankings`` and say in the commit why the rankings moved.
"""

from __future__ import annotations

import gzip
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from benchmarks.match import NOW as BENCH_NOW
from benchmarks.match import build_corpus
from matcher.documents import Document
from matcher.eligibility import CallFacts, ProfileFacts
from matcher.rank import RankSettings
from matcher.runs import match_rows, rank_corpus
from matcher.vectorize import TextModel

GOLDEN = Path(__file__).parent.parent / "data" / "matcher" / "golden"
DICTIONARY = str(Path(__file__).parent.parent / "data" / "matcher" / "tiny-deu-eng")
SETTINGS = RankSettings(top_n=10)


def _facts(kind: type, values: dict[str, Any]) -> Any:
    values = dict(values)
    for name in ("next_deadline_at",):
        if values.get(name):
            values[name] = datetime.fromisoformat(values[name])
    if values.get("opening_date"):
        values["opening_date"] = date.fromisoformat(values["opening_date"])
    for name in ("eligible_applicants", "regions"):
        if name in values:
            values[name] = tuple(values[name])
    return kind(**values)


def _snapshot_corpus() -> tuple[list[Document], list[Any], list[Document], list[Any], datetime]:
    with gzip.open(GOLDEN / "snapshot_corpus.json.gz", "rt", encoding="utf-8") as fh:
        frozen = json.load(fh)
    return (
        [Document(**call["doc"]) for call in frozen["calls"]],
        [_facts(CallFacts, call["facts"]) for call in frozen["calls"]],
        [Document(**profile["doc"]) for profile in frozen["profiles"]],
        [_facts(ProfileFacts, profile["facts"]) for profile in frozen["profiles"]],
        datetime.fromisoformat(frozen["now"]),
    )


def _bench_corpus() -> tuple[list[Document], list[Any], list[Document], list[Any], datetime]:
    corpus = build_corpus(3000, 40, seed=42)
    docs = [corpus.call_docs[i] for i in range(len(corpus.call_docs))]
    return docs, corpus.call_facts, corpus.profile_docs, corpus.profile_facts, BENCH_NOW


CORPORA = {"snapshot": _snapshot_corpus, "bench": _bench_corpus}


def rankings(name: str) -> list[dict[str, Any]]:
    """Every match of the corpus: profile, call, rank, score and the full explanation."""
    call_docs, calls, profile_docs, profiles, now = CORPORA[name]()
    ranking = rank_corpus(
        call_docs,
        calls,
        profile_docs,
        profiles,
        now,
        model_factory=lambda: TextModel(glossary=True, dictionary_path=DICTIONARY),
        settings=SETTINGS,
    )
    rows = match_rows(ranking, call_docs)
    # A JSON round trip, so that tuples and lists compare as the file holds them.
    return json.loads(json.dumps([{**row, "score": round(row["score"], 5)} for row in rows]))


def _expected(name: str) -> list[dict[str, Any]]:
    with (GOLDEN / f"{name}_rankings.json").open(encoding="utf-8") as fh:
        return json.load(fh)


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_rankings_and_explanations_are_those_frozen(name: str) -> None:
    found, expected = rankings(name), _expected(name)
    assert len(expected) > 100  # the frozen file holds real rankings
    assert [(r["profile_id"], r["rank"], r["call_id"]) for r in found] == [
        (r["profile_id"], r["rank"], r["call_id"]) for r in expected
    ]
    for got, want in zip(found, expected, strict=True):
        assert got["score"] == pytest.approx(want["score"], abs=2e-5), got
        assert got["explanation"] == want["explanation"], (got["profile_id"], got["call_id"])


if __name__ == "__main__":  # python -m tests.matcher.test_golden_rankings: regenerate
    for corpus in sys.argv[1:] or sorted(CORPORA):
        path = GOLDEN / f"{corpus}_rankings.json"
        lines = (json.dumps(row, ensure_ascii=False, sort_keys=True) for row in rankings(corpus))
        path.write_text("[\n" + ",\n".join(lines) + "\n]\n", encoding="utf-8")
        print(f"wrote {path}")
