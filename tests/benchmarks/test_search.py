"""``bench search`` at a tiny size: the report's shape (its figures are measured by the command)."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from benchmarks.cli import bench
from benchmarks.search import cases

FIGURES = ("calls", "queries", "p50_ms", "p95_ms", "index_mb")


def _run(*extra: str) -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(
        bench, ["search", "--calls", "300", "--repeats", "1", "--json", *extra]
    )
    assert result.exit_code == 0, result.output
    assert "building the search index" in result.stderr  # progress goes to stderr
    return json.loads(result.stdout)


def _check(figures: dict) -> None:  # type: ignore[type-arg]
    assert figures["calls"] == 300
    assert figures["queries"] == len(cases())
    assert 0 < figures["p50_ms"] <= figures["p95_ms"]
    assert figures["index_mb"] > 0
    assert figures["empty_pages"] < figures["queries"]


def test_bench_search_prints_one_json_object() -> None:
    report = _run()
    assert set(FIGURES) <= set(report)
    _check(report)
    assert report["facets"] is True and report["baselines"] == {}
    assert 0 < report["without_facets"]["p50_ms"] <= report["without_facets"]["p95_ms"]


@pytest.mark.skipif(
    not os.environ.get("FOERDERDESK_TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="needs FOERDERDESK_TEST_DATABASE_URL naming PostgreSQL",
)
def test_bench_search_beside_postgres(database_url: str) -> None:
    report = _run("--postgres", database_url)  # an empty schema of this test's own
    _check(report)
    postgres = report["baselines"]["postgres"]
    assert set(FIGURES) <= set(postgres)
    _check(postgres)
