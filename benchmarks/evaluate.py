"""Evaluation of the matcher on a ranking benchmark, beside two classic baselines.

A benchmark is two JSON-lines files: topics (the calls to rank: ``id``, ``title``, ``text``)
and queries (``id``, ``text``, ``relevant``: list of topic ids). Every query ranks ALL topics;
the figures are hit@1, hit@10, MRR over the full ranking and nDCG@10 with binary relevance.

The matcher is run exactly as in production (:class:`matcher.vectorize.TextModel`, scored by
``TextModel.similarity``). The baselines, printed in the same run: scikit-learn's
``TfidfVectorizer`` with its defaults, and Okapi BM25 (k1 1.5, b 0.75, English stop words).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from matcher.documents import Document
from matcher.vectorize import TextModel
from storage.config import Settings, load_settings

Scorer = Callable[[Sequence["Topic"], Sequence["Query"]], np.ndarray]


class BenchmarkError(ValueError):
    """A benchmark file that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Topic:
    """A call to be ranked."""

    id: str
    title: str
    text: str


@dataclass(frozen=True)
class Query:
    """A project description and the ids of the topics that answer it."""

    id: str
    text: str
    relevant: frozenset[str]
    language: str = ""


def _read_jsonl(path: Path, required: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BenchmarkError(f"{path.name}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise BenchmarkError(f"{path.name}:{number}: expected a JSON object")
            missing = [key for key in required if key not in row]
            if missing:
                raise BenchmarkError(f"{path.name}:{number}: missing {', '.join(missing)}")
            rows.append(row)
    return rows


def load_topics(path: str | Path) -> list[Topic]:
    """Read topic lines (``id``, ``title``, ``text``)."""
    rows = _read_jsonl(Path(path), ("id", "text"))
    return [Topic(str(r["id"]), str(r.get("title") or ""), str(r["text"] or "")) for r in rows]


def load_queries(path: str | Path) -> list[Query]:
    """Read query lines (``id``, ``text``, ``relevant``)."""
    rows = _read_jsonl(Path(path), ("id", "text", "relevant"))
    queries = []
    for r in rows:
        relevant = r["relevant"]
        if isinstance(relevant, str):
            relevant = [relevant]
        queries.append(
            Query(
                str(r["id"]),
                str(r["text"] or ""),
                frozenset(str(x) for x in relevant),
                str(r.get("lang") or ""),
            )
        )
    return queries


# -- metrics --------------------------------------------------------------------------------


def relevant_ranks(
    scores: np.ndarray, topic_ids: Sequence[str], queries: Sequence[Query]
) -> list[list[int]]:
    """For each query, the sorted 1-based ranks of all its relevant topics."""
    index = {tid: i for i, tid in enumerate(topic_ids)}
    out = []
    for row, query in enumerate(queries):
        cols = [index[t] for t in query.relevant if t in index]
        order = np.lexsort((np.arange(scores.shape[1]), -scores[row]))
        position = np.empty_like(order)
        position[order] = np.arange(1, len(order) + 1)
        out.append(sorted(int(position[c]) for c in cols))
    return out


def metrics_from_ranks(ranks: Sequence[Sequence[int]], k: int = 10) -> dict[str, float]:
    """hit@1, hit@k, MRR and nDCG@k (binary relevance) from each query's relevant ranks.

    A query without relevant topics counts as a miss everywhere.
    """
    n = len(ranks)
    if n == 0:
        return {"hit@1": 0.0, f"hit@{k}": 0.0, "mrr": 0.0, f"ndcg@{k}": 0.0}
    hit1 = hitk = rr = ndcg = 0.0
    for rel in ranks:
        if not rel:
            continue
        best = min(rel)
        hit1 += best == 1
        hitk += best <= k
        rr += 1.0 / best
        dcg = sum(1.0 / math.log2(r + 1) for r in rel if r <= k)
        ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(rel), k)))
        ndcg += dcg / ideal
    return {"hit@1": hit1 / n, f"hit@{k}": hitk / n, "mrr": rr / n, f"ndcg@{k}": ndcg / n}


# -- methods --------------------------------------------------------------------------------


def matcher_scores(
    topics: Sequence[Topic], queries: Sequence[Query], model: TextModel | None = None
) -> np.ndarray:
    """The production matcher: fit on the topics, expand the queries, score each pair.

    Without a ``model``: glossary only (no dictionary), as when freedict is not installed.
    """
    model = model or TextModel()
    docs = [Document(title=t.title, description=t.text) for t in topics]
    index = model.fit_index(docs)
    profiles = model.transform_queries(
        [Document(description=q.text, language=q.language) for q in queries]
    )
    return (profiles @ index).toarray()


def tfidf_default_scores(topics: Sequence[Topic], queries: Sequence[Query]) -> np.ndarray:
    """Plain scikit-learn TF-IDF with its defaults, cosine (its rows are L2-normalised)."""
    vectorizer = TfidfVectorizer()
    d = vectorizer.fit_transform([t.text for t in topics])
    q = vectorizer.transform([q.text for q in queries])
    return np.asarray((q @ d.T).toarray(), dtype=np.float32)


def bm25_scores(
    topics: Sequence[Topic], queries: Sequence[Query], k1: float = 1.5, b: float = 0.75
) -> np.ndarray:
    """Okapi BM25 with English stop words; each query term counts once per occurrence."""
    counter = CountVectorizer(stop_words="english")
    tf = sp.csr_matrix(counter.fit_transform([t.text for t in topics]), dtype=np.float64)
    n_docs = tf.shape[0]
    df = np.bincount(tf.indices, minlength=tf.shape[1])
    idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
    lengths = np.asarray(tf.sum(axis=1)).ravel()
    avg = lengths.mean() if n_docs else 0.0
    norm = k1 * (1.0 - b + b * lengths / avg) if avg else np.full(n_docs, k1)
    # tf * (k1 + 1) / (tf + k1 * (1 - b + b * len/avg)), per stored entry of the matrix.
    row_of = np.repeat(np.arange(n_docs), np.diff(tf.indptr))
    weighted = tf.copy()
    weighted.data = tf.data * (k1 + 1.0) / (tf.data + norm[row_of])
    weighted = sp.csr_matrix(weighted.multiply(idf[np.newaxis, :]))
    q = counter.transform([q.text for q in queries])
    return np.asarray((q @ weighted.T).toarray(), dtype=np.float32)


def evaluate_method(
    scorer: Scorer, topics: Sequence[Topic], queries: Sequence[Query]
) -> dict[str, float]:
    """Run one method on the benchmark and compute its metrics and wall time."""
    start = time.perf_counter()
    scores = scorer(topics, queries)
    seconds = time.perf_counter() - start
    ranks = relevant_ranks(scores, [t.id for t in topics], queries)
    result: dict[str, float] = dict(metrics_from_ranks(ranks))
    result["queries"] = len(queries)
    result["seconds"] = round(seconds, 3)
    return result


def run_benchmark(
    topics: Sequence[Topic],
    queries: Sequence[Query],
    *,
    model_factory: Callable[[], TextModel] = TextModel,
    baselines: bool = True,
) -> dict[str, Any]:
    """The matcher's figures, with the baselines' under ``baselines``.

    ``model_factory`` builds a fresh, unfitted model; the timing includes fitting it.
    """
    result: dict[str, Any] = evaluate_method(
        lambda t, q: matcher_scores(t, q, model_factory()), topics, queries
    )
    if baselines:
        result["baselines"] = {
            "tfidf_sklearn_default": evaluate_method(tfidf_default_scores, topics, queries),
            "bm25": evaluate_method(bm25_scores, topics, queries),
        }
    return result


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table of the matcher and baseline figures."""
    header = f"{'method':<24}{'hit@1':>8}{'hit@10':>8}{'MRR':>8}{'nDCG@10':>9}{'queries':>9}"
    header += f"{'seconds':>9}"
    lines = [header]
    rows = [("matcher", result), *result.get("baselines", {}).items()]
    for name, r in rows:
        lines.append(
            f"{name:<24}{r['hit@1']:>8.3f}{r['hit@10']:>8.3f}{r['mrr']:>8.3f}"
            f"{r['ndcg@10']:>9.3f}{r['queries']:>9d}{r['seconds']:>9.2f}"
        )
    return "\n".join(lines)


@click.command("eval")
@click.option(
    "--topics",
    "topics_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON lines: id, title, text (the calls to rank).",
)
@click.option(
    "--queries",
    "queries_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON lines: id, text, relevant (list of topic ids).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--glossary/--no-glossary", default=True, help="Expand queries with the glossary (default)."
)
@click.option(
    "--dictionary/--no-dictionary",
    default=True,
    help="Expand queries with the freedict dictionary at FOERDERDESK_FREEDICT_PATH, if there.",
)
@click.pass_context
def eval_command(
    ctx: click.Context,
    topics_path: Path,
    queries_path: Path,
    as_json: bool,
    glossary: bool,
    dictionary: bool,
) -> None:
    """Rank all topics for every query; print hit@1, hit@10, MRR, nDCG@10 and baselines.

    The matcher is the production text model (same analysis, expansion and scoring); the
    baselines are scikit-learn's TfidfVectorizer with defaults and Okapi BM25.
    """
    root = ctx.find_root().obj
    settings = root if isinstance(root, Settings) else load_settings()
    dictionary_path = settings.freedict_path if dictionary else None
    try:
        topics = load_topics(topics_path)
        queries = load_queries(queries_path)
    except BenchmarkError as exc:
        raise click.ClickException(str(exc)) from None
    if not topics:
        raise click.ClickException(f"{topics_path}: no topics")
    result = run_benchmark(
        topics,
        queries,
        model_factory=lambda: TextModel(glossary=glossary, dictionary_path=dictionary_path),
    )
    if as_json:
        click.echo(json.dumps(result, sort_keys=True))
    else:
        click.echo(format_table(result))
