"""The benchmark's corpus and report (its figures are measured by the command, not here)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from benchmarks.cli import bench
from benchmarks.match import build_corpus, load_topics, run_variant


def test_shipped_topic_texts_are_real_and_complete() -> None:
    topics = load_topics()
    assert len(topics) == 629
    assert all(t["title"] for t in topics)
    # A few real topics (EuropeAid) have no description; nearly all do, and long ones.
    assert sum(len(t["text"]) > 1000 for t in topics) > 550
    assert len({t["id"] for t in topics}) == 629


def test_corpus_has_the_asked_size_is_deterministic_and_varied() -> None:
    first = build_corpus(700, 30, seed=1)
    again = build_corpus(700, 30, seed=1)
    assert len(first.call_docs) == len(first.call_facts) == 700
    assert len(first.profile_docs) == len(first.profile_facts) == 30
    assert list(first.call_docs) == list(again.call_docs)
    assert first.call_facts == again.call_facts
    # Recycled texts, but no two calls alike even when they share a topic (700 > 629).
    assert len(set(first.call_docs)) == 700
    assert {d.language for d in first.profile_docs} == {"de", "en"}


def test_matcher_variant_ranks_the_corpus_in_process() -> None:
    figures = run_variant("matcher", 300, 12, seed=3, top_n=5)
    assert figures["calls"] == 300 and figures["profiles"] == 12
    assert 0 < figures["matches"] <= 12 * 5
    assert figures["seconds"] > 0 and figures["peak_rss_mb"] > 0
    assert set(figures["phases"]) == {
        "fit_index_calls",
        "transform_profiles",
        "eligibility_scoring_top_n",
        "explanations",
    }


def test_bench_match_prints_one_json_object_with_baselines() -> None:
    result = CliRunner().invoke(
        bench, ["match", "--calls", "200", "--profiles", "8", "--one-call", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    for figures in (report, report["baselines"]["sklearn_tfidf"], report["one_call"]):
        assert figures["calls"] == 200 and figures["profiles"] == 8
        assert figures["seconds"] >= 0 and figures["peak_rss_mb"] > 0
    assert report["one_call"]["repeats"] == 20
    # The first run of an installation ranks as the later ones do.
    assert report["matches"] == report["first_run"]["matches"] > 0


def test_calls_built_on_demand_agree_by_index_and_by_slice() -> None:
    calls = build_corpus(50, 2, seed=5).call_docs
    assert calls[10:13] == [calls[10], calls[11], calls[12]]
    assert calls[-1] == calls[49]
    assert calls[7].summary and calls[7].title
