"""Metrics on hand-computed rankings, benchmark files, baselines and the eval command."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from benchmarks.evaluate import (
    BenchmarkError,
    Query,
    bm25_scores,
    eval_command,
    load_queries,
    load_topics,
    metrics_from_ranks,
    relevant_ranks,
    tfidf_default_scores,
)
from storage.config import load_settings

DATA = Path(__file__).parent.parent / "data" / "matcher"
TOPICS = DATA / "topics.jsonl"
QUERIES = DATA / "queries.jsonl"


def _query(qid: str, *relevant: str) -> Query:
    return Query(qid, "", frozenset(relevant))


def test_ranks_follow_scores_and_ties_follow_topic_order() -> None:
    topic_ids = ["A", "B", "C", "D"]
    scores = np.array(
        [
            [0.9, 0.1, 0.2, 0.3],  # A first
            [0.5, 0.5, 0.5, 0.1],  # three-way tie: A, B, C in topic order, so C is third
            [0.1, 0.2, 0.3, 0.4],  # D, C, B, A
        ]
    )
    queries = [_query("q1", "A"), _query("q2", "C"), _query("q3", "C", "A")]
    assert relevant_ranks(scores, topic_ids, queries) == [[1], [3], [2, 4]]


def test_metrics_match_values_computed_by_hand() -> None:
    # q1 hits at 1; q2 at 3; q3 has relevant topics at 2 and 4; q4 at 12; q5 none in the
    # collection (a miss everywhere).
    ranks = [[1], [3], [2, 4], [12], []]
    result = metrics_from_ranks(ranks)
    assert result["hit@1"] == pytest.approx(1 / 5)
    assert result["hit@10"] == pytest.approx(3 / 5)
    assert result["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 2 + 1 / 12) / 5)
    ndcg_q2 = 1 / math.log2(4)
    ndcg_q3 = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert result["ndcg@10"] == pytest.approx((1 + ndcg_q2 + ndcg_q3 + 0 + 0) / 5)


def test_metrics_of_no_queries_are_zero() -> None:
    assert metrics_from_ranks([]) == {"hit@1": 0.0, "hit@10": 0.0, "mrr": 0.0, "ndcg@10": 0.0}


def test_benchmark_files_are_read() -> None:
    topics = load_topics(TOPICS)
    queries = load_queries(QUERIES)
    assert [t.id for t in topics][:2] == ["T-TWIN", "T-YOUTH"]
    assert queries[2].relevant == frozenset({"T-TWIN"})
    assert queries[2].language == "de"


def test_broken_benchmark_line_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "queries.jsonl"
    bad.write_text('{"id": "a", "text": "x", "relevant": []}\n{"id": "b", "text": \n', "utf-8")
    with pytest.raises(BenchmarkError, match=r"queries.jsonl:2: not JSON"):
        load_queries(bad)
    bad.write_text('{"id": "a", "text": "x"}\n', "utf-8")
    with pytest.raises(BenchmarkError, match="missing relevant"):
        load_queries(bad)


def test_baselines_rank_the_obvious_english_answers_first() -> None:
    topics = load_topics(TOPICS)
    english = [q for q in load_queries(QUERIES) if q.language == "en"]
    for scorer in (tfidf_default_scores, bm25_scores):
        ranks = relevant_ranks(scorer(topics, english), [t.id for t in topics], english)
        assert [r[0] for r in ranks] == [1, 1]


def test_eval_command_prints_the_figures_as_json() -> None:
    runner = CliRunner()
    result = runner.invoke(
        eval_command,
        ["--topics", str(TOPICS), "--queries", str(QUERIES), "--json", "--no-dictionary"],
        obj=load_settings(environ={}),
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert {"hit@1", "hit@10", "mrr", "ndcg@10", "queries", "seconds", "baselines"} <= set(figures)
    assert figures["queries"] == 4
    assert figures["hit@1"] == 1.0  # German queries included: the glossary bridges them
    assert set(figures["baselines"]) == {"tfidf_sklearn_default", "bm25"}
    for baseline in figures["baselines"].values():
        assert {"hit@1", "hit@10", "mrr", "ndcg@10", "queries", "seconds"} <= set(baseline)
        assert baseline["hit@1"] < 1.0  # without a bridge the German queries miss


def test_eval_command_prints_a_table() -> None:
    result = CliRunner().invoke(
        eval_command,
        ["--topics", str(TOPICS), "--queries", str(QUERIES), "--no-dictionary"],
        obj=load_settings(environ={}),
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["method", "hit@1", "hit@10", "MRR", "nDCG@10", "queries", "seconds"]
    assert [line.split()[0] for line in lines[1:]] == ["matcher", "tfidf_sklearn_default", "bm25"]


def test_eval_command_reports_a_broken_file(tmp_path: Path) -> None:
    bad = tmp_path / "topics.jsonl"
    bad.write_text("not json\n", "utf-8")
    result = CliRunner().invoke(
        eval_command, ["--topics", str(bad), "--queries", str(QUERIES)], obj=load_settings()
    )
    assert result.exit_code != 0
    assert "topics.jsonl:1: not JSON" in result.output
