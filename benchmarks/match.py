"""``foerderdesk bench match``: how fast and how big a full re-match is, beside a baseline.

The corpus is synthetic in size but real in text: call texts are recycled from 629 real EU
topics shipped in ``matcher/data/reference_calls.jsonl.gz`` (each synthetic call is one topic
with a random subset of its sentences and a few sentences of other topics, so no two calls
are identical), profiles from the shipped Hannover example profiles and from topic
sentences. Eligibility facts (applicant types, regions, deadlines, grant ranges) are drawn
at random with a fixed seed, so every run ranks the same corpus.

Each variant runs in a fresh subprocess (``python -m benchmarks.match --variant ...``) so that
its peak RSS is its own (``peak_rss_mb``):

- ``matcher``: the production pipeline in memory — fit and transform the calls, transform
  and expand the profiles, eligibility and soft factors, scoring and top N per profile in
  chunks, and the explanation of every match (terms in the call's own words, eligibility
  facts), i.e. the rows a re-match stores. Database reads and writes are not included.
- ``sklearn_tfidf``: a bare scikit-learn ``TfidfVectorizer()`` (defaults) fitted on the same
  call texts, the profiles transformed, and the sparse product profiles × calls.
- ``one_call``: the matcher set up as above (not timed), then one new call ranked against
  all profiles (``matcher.rank.rank_new_call``), repeated for several calls.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, overload

from matcher.documents import Document
from matcher.eligibility import CallFacts, ProfileFacts
from storage.models import APPLICANT_TYPES

TEXTS_FILE = "reference_calls.jsonl.gz"
VARIANTS = ("matcher", "sklearn_tfidf", "one_call")
NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
_SENTENCE = re.compile(r"(?<=[.!?:])\s+")
REGION_CHOICES = [(), ("EU",), ("DE",), ("DE-NI",), ("DE-BY",), ("FR",), ("EU", "UA")]
REGION_WEIGHTS = [40, 35, 10, 5, 4, 3, 3]


class CallTexts(Sequence[Document]):
    """The synthetic calls' texts, each built when asked for, from sentence numbers.

    50,000 calls as strings take about 400 MB; as sentence numbers they take a few MB. The
    measured process holds the corpus, so keeping it compact keeps the peak RSS the
    matcher's own; the matcher reads calls in chunks, so only a chunk's strings live at once.
    """

    def __init__(self, sentences: list[list[str]], titles: list[str]) -> None:
        self._sentences = sentences
        self._titles = titles
        self._picks: list[array[int]] = []  # per call: topic, then (topic, sentence) pairs

    def add(self, base: int, picks: list[tuple[int, int]]) -> None:
        """Add a call of topic ``base`` made of the sentences ``picks`` (topic, index)."""
        self._picks.append(array("i", [base, *(x for pick in picks for x in pick)]))

    def __len__(self) -> int:
        return len(self._picks)

    @overload
    def __getitem__(self, index: int) -> Document: ...

    @overload
    def __getitem__(self, index: slice) -> list[Document]: ...

    def __getitem__(self, index: int | slice) -> Document | list[Document]:
        if isinstance(index, slice):
            return [self._document(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        return self._document(index)

    def _document(self, i: int) -> Document:
        picks = self._picks[i]
        body = [self._sentences[picks[k]][picks[k + 1]] for k in range(1, len(picks), 2)]
        return Document(
            title=self._titles[picks[0]],
            summary=body[0],
            description=" ".join(body[1:]),
            language="en",
        )


@dataclass
class Corpus:
    """A synthetic corpus: call and profile texts and facts."""

    call_docs: Sequence[Document]
    call_facts: list[CallFacts]
    profile_docs: list[Document]
    profile_facts: list[ProfileFacts]


def load_topics() -> list[dict[str, str]]:
    """The shipped real topic texts (id, title, text)."""
    data = resources.files("matcher") / "data" / TEXTS_FILE
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _example_profiles() -> list[dict[str, Any]]:
    import storage
    from storage.profiles import read_rows

    path = Path(storage.__file__).parent / "examples" / "hannover_profiles.yaml"
    return read_rows(path) if path.exists() else []


def _sample_sentences(rng: random.Random, sentences: list[str], share: float) -> list[str]:
    keep = [s for s in sentences if rng.random() < share]
    return keep or sentences[:1]


def _sample_indices(rng: random.Random, count: int, share: float) -> list[int]:
    """Like :func:`_sample_sentences`, as sentence numbers (same random draws)."""
    keep = [i for i in range(count) if rng.random() < share]
    return keep or [0]


def build_corpus(n_calls: int, n_profiles: int, seed: int = 42) -> Corpus:
    """A deterministic corpus of ``n_calls`` calls and ``n_profiles`` profiles."""
    rng = random.Random(seed)
    topics = load_topics()
    # A few topics (EuropeAid) come without a description: their title stands in.
    sentences = [[s for s in _SENTENCE.split(t["text"]) if s] or [t["title"]] for t in topics]
    call_docs = CallTexts(sentences, [t["title"] for t in topics])
    call_facts: list[CallFacts] = []
    for i in range(n_calls):
        base = i % len(topics)
        picks = [(base, k) for k in _sample_indices(rng, len(sentences[base]), 0.7)]
        for _ in range(rng.randint(1, 3)):
            other = rng.randrange(len(topics))
            picks.append((other, rng.randrange(len(sentences[other]))))
        call_docs.add(base, picks)
        k = rng.choice([0, 0, 1, 2, 3])
        grant_max = rng.choice([None, 60_000, 500_000, 2_000_000, 10_000_000])
        call_facts.append(
            CallFacts(
                call_id=i + 1,
                eligible_applicants=tuple(sorted(rng.sample(APPLICANT_TYPES, k))),
                regions=rng.choices(REGION_CHOICES, REGION_WEIGHTS)[0],
                next_deadline_at=(
                    None if rng.random() < 0.1 else NOW + timedelta(days=rng.randint(1, 400))
                ),
                grant_min_eur=grant_max // 10 if grant_max and rng.random() < 0.5 else None,
                grant_max_eur=grant_max,
            )
        )
    examples = _example_profiles()
    profile_docs: list[Document] = []
    profile_facts: list[ProfileFacts] = []
    for j in range(n_profiles):
        if examples and j % 2 == 0:
            row = examples[(j // 2) % len(examples)]
            extra = rng.choice(sentences[rng.randrange(len(topics))])
            profile_docs.append(
                Document(
                    title=str(row.get("name", "")),
                    summary="; ".join(row.get("themes") or ()),
                    description=f"{row.get('description', '')} {extra}",
                    keywords="; ".join(row.get("keywords") or ()),
                    language="de",
                )
            )
        else:
            topic = rng.randrange(len(topics))
            body = _sample_sentences(rng, sentences[topic], 0.2)[:6]
            profile_docs.append(
                Document(title=topics[topic]["title"], description=" ".join(body), language="en")
            )
        low = rng.choice([None, 10_000, 50_000, 200_000])
        profile_facts.append(
            ProfileFacts(
                profile_id=j + 1,
                applicant_type=rng.choice(["municipality", "municipality", "ngo", "public_body"]),
                region=rng.choice(["DE-NI", "DE-NI", "DE-NI", "DE"]),
                lead_time_days=rng.choice([14, 28, 42]),
                budget_min_eur=low,
                budget_max_eur=low * 5 if low else None,
            )
        )
    return Corpus(call_docs, call_facts, profile_docs, profile_facts)


def _peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(who).ru_maxrss / 1024.0


def _run_matcher(
    corpus: Corpus, top_n: int, dictionary: str | None, index_folder: str | None = None
) -> dict[str, Any]:
    from matcher.eligibility import CallTable
    from matcher.rank import RankSettings, rank_calls
    from matcher.runs import Ranking, default_model_factory, match_rows

    phases: dict[str, float] = {}
    started = time.perf_counter()
    model = default_model_factory(dictionary, index_folder=index_folder)()
    by_term = model.fit_index(corpus.call_docs)
    phases["fit_index_calls"] = time.perf_counter() - started
    mark = time.perf_counter()
    queries = model.transform_queries(corpus.profile_docs)
    phases["transform_profiles"] = time.perf_counter() - mark
    mark = time.perf_counter()
    table = CallTable(corpus.call_facts, NOW)
    results = rank_calls(
        model,
        queries,
        by_term,
        table,
        corpus.profile_facts,
        settings=RankSettings(top_n=top_n),
    )
    phases["eligibility_scoring_top_n"] = time.perf_counter() - mark
    mark = time.perf_counter()
    ranking = Ranking(model, queries, by_term, table, corpus.profile_facts, results)
    rows = match_rows(ranking, corpus.call_docs)
    phases["explanations"] = time.perf_counter() - mark
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 3),
        "phases": {k: round(v, 3) for k, v in phases.items()},
        "matches": len(rows),
        "vocabulary": by_term.shape[0],
    }


def _run_sklearn(corpus: Corpus) -> dict[str, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    call_texts = [f"{d.title} {d.summary} {d.description}" for d in corpus.call_docs]
    profile_texts = [
        f"{d.title} {d.summary} {d.description} {d.keywords}" for d in corpus.profile_docs
    ]
    started = time.perf_counter()
    vectorizer = TfidfVectorizer()
    documents = vectorizer.fit_transform(call_texts)
    queries = vectorizer.transform(profile_texts)
    product = queries @ documents.T
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "product_nnz": int(product.nnz)}


def _run_one_call(corpus: Corpus, dictionary: str | None, repeats: int = 20) -> dict[str, Any]:
    from matcher.rank import rank_new_call
    from matcher.runs import default_model_factory

    model = default_model_factory(dictionary)()
    model.fit(corpus.call_docs[:-repeats] or corpus.call_docs)
    queries = model.transform_queries(corpus.profile_docs)
    timings = []
    hits = 0
    for doc, facts in zip(corpus.call_docs[-repeats:], corpus.call_facts[-repeats:], strict=True):
        started = time.perf_counter()
        ranked = rank_new_call(model, queries, corpus.profile_facts, doc, facts, NOW)
        timings.append((time.perf_counter() - started) * 1000.0)
        hits += len(ranked)
    return {
        "seconds": round(sum(timings) / 1000.0, 4),
        "ms_median": round(statistics.median(timings), 2),
        "ms_max": round(max(timings), 2),
        "repeats": len(timings),
        "profiles_reached": hits,
    }


def run_variant(
    variant: str,
    n_calls: int,
    n_profiles: int,
    seed: int,
    top_n: int,
    dictionary: str | None = None,
    index_folder: str | None = None,
) -> dict[str, Any]:
    """Build the corpus and measure one variant in this process."""
    corpus = build_corpus(n_calls, n_profiles, seed)
    before = _peak_rss_mb()
    if variant == "matcher":
        result = _run_matcher(corpus, top_n, dictionary, index_folder)
    elif variant == "sklearn_tfidf":
        result = _run_sklearn(corpus)
    elif variant == "one_call":
        result = _run_one_call(corpus, dictionary)
    else:
        raise ValueError(f"unknown variant {variant!r}: use one of {', '.join(VARIANTS)}")
    return {
        "calls": n_calls,
        "profiles": n_profiles,
        **result,
        "dictionary": bool(dictionary) and variant != "sklearn_tfidf",
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "corpus_rss_mb": round(before, 1),
    }


def measure(
    variant: str,
    n_calls: int,
    n_profiles: int,
    *,
    seed: int = 42,
    top_n: int = 50,
    dictionary_path: str | None = None,
    index_folder: str | None = None,
) -> dict[str, Any]:
    """Measure one variant in a fresh Python process; its figures as a dictionary."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.match",
        "--variant",
        variant,
        "--calls",
        str(n_calls),
        "--profiles",
        str(n_profiles),
        "--seed",
        str(seed),
        "--top-n",
        str(top_n),
    ]
    if dictionary_path:
        command += ["--dictionary", dictionary_path]
    if index_folder:
        command += ["--index-folder", index_folder]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bench variant {variant} failed:\n{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_match(
    n_calls: int,
    n_profiles: int,
    *,
    one_call: bool = False,
    seed: int = 42,
    top_n: int = 50,
    dictionary_path: str | None = None,
) -> dict[str, Any]:
    """The full report: the matcher at the top level, its first run and the baselines nested.

    ``first_run``: the first re-match of a new installation (empty matcher folder, so the
    dictionary's index is parsed too and kept there for every later process). Top level:
    the next re-match, with the parsed index as the first run left it. Every re-match
    analyses and counts every call.
    """
    with tempfile.TemporaryDirectory(prefix="foerderdesk-bench-") as folder:
        run = functools.partial(
            measure,
            "matcher",
            n_calls,
            n_profiles,
            seed=seed,
            top_n=top_n,
            dictionary_path=dictionary_path,
            index_folder=folder,
        )
        first_run = run()
        report = run()
        report["first_run"] = first_run
    report["baselines"] = {
        "sklearn_tfidf": measure("sklearn_tfidf", n_calls, n_profiles, seed=seed)
    }
    if one_call:
        report["one_call"] = measure(
            "one_call", n_calls, n_profiles, seed=seed, dictionary_path=dictionary_path
        )
    return report


def main(argv: list[str] | None = None) -> None:
    """Entry point of the measuring subprocess: prints one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.match")
    parser.add_argument("--variant", choices=VARIANTS, required=True)
    parser.add_argument("--calls", type=int, required=True)
    parser.add_argument("--profiles", type=int, required=True)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--top-n", type=int, default=50)
    parser.add_argument("--dictionary", default=None, help="freedict path (default: none)")
    parser.add_argument("--index-folder", default=None, help="the matcher folder (default: none)")
    args = parser.parse_args(argv)
    result = run_variant(
        args.variant,
        args.calls,
        args.profiles,
        args.seed,
        args.top_n,
        args.dictionary,
        args.index_folder,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
