"""``foerderdesk bench search``: how fast the search page answers, beside PostgreSQL's own.

The corpus is ``bench match``'s (:func:`benchmarks.match.build_corpus`: real EU topic texts,
random eligibility facts with a fixed seed), stored as calls in a real database, a temporary
SQLite file, so that the filters run as the SQL they are in production. A share of the calls
is closed, forthcoming or withdrawn, so that the status filter has something to remove.

The search is measured as the search page calls it: ``search_calls`` with the index from a
:class:`~matcher.search.SearchIndexHolder` (which checks the calls' version every few seconds),
first page of 25, with the filter counts (``facets=True``), a session per call. Each query is
timed with and without filters; warm-up queries of other words are run first and not timed.
``without_facets`` times the same calls without the counts, as the JSON API makes them.
``index_mb`` is every byte reachable from the built index (its arrays' data included), what a
web worker holds; PostgreSQL's is the size of its GIN index.

With ``--postgres URL`` (an empty database) the same rows are stored there too, with a stored
``tsvector`` column (title weighted A, summary B, text D) and a GIN index on it, and the same
queries and filters (``storage.call_filters.apply_filter``) are answered by
``websearch_to_tsquery`` in ``ts_rank`` order, LIMIT 25, the page's calls loaded the same way.
The text search configuration is ``english``: the corpus is English, and ``simple`` neither
stems (our index does) nor drops stop words, which every call contains.
"""

from __future__ import annotations

import gc
import statistics
import sys
import tempfile
import time
import types
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, insert, inspect, literal_column, select, text
from sqlalchemy.orm import Session, selectinload, sessionmaker

from benchmarks.match import NOW, CallTexts, build_corpus, load_topics
from matcher.runs import default_model_factory
from matcher.search import SearchIndex, SearchIndexHolder, search_calls
from storage.call_filters import CallFilter, apply_filter
from storage.db import make_engine, make_session_factory
from storage.models import Base, CallDeadline, FundingCall, Source

PER_PAGE = 25
TS_CONFIG = "english"
# (slug, funder type, share of the calls)
SOURCES = [
    ("eu_funding_tenders", "eu", 0.8),
    ("bmbf", "federal", 0.1),
    ("nbank", "state", 0.05),
    ("stiftung_niedersachsen", "foundation", 0.05),
]
QUERIES = [
    "renewable energy communities",
    "town twinning citizens",
    "artificial intelligence in healthcare",
    "climate adaptation of cities",
    "youth exchange",
    "cultural heritage",
    "hydrogen",
    "digital skills for teachers",
    "circular economy plastics",
    "rail infrastructure",
    "Jugendaustausch Polen",
    "Städtepartnerschaft",
    "Klimaanpassung in Städten",
    "erneuerbare Energien",
    "Digitalisierung der Verwaltung",
    "Kulturerbe",
    "Wasserstoff",
    "künstliche Intelligenz",
    "Kreislaufwirtschaft",
    "Bürgerbeteiligung",
]
WARMUP_QUERIES = ["biodiversity", "Hochwasserschutz", "quantum", "Gesundheit", "batteries"]
FILTERS: dict[str, dict[str, Any]] = {
    "none": {},
    "municipality": {"applicant_type": "municipality", "include_unstated": True},
    "eu_within_90_days": {"funder_type": "eu", "deadline_to": NOW.date() + timedelta(days=90)},
    "horizon_min_500k": {"programme": "HORIZON", "min_grant_eur": 500_000},
    "all_statuses": {"statuses": ("open", "forthcoming", "closed")},
}

Progress = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cases() -> list[CallFilter]:
    """Every timed query with every filter."""
    return [CallFilter(text=q, **values) for values in FILTERS.values() for q in QUERIES]


def _programme(topic_id: str) -> str:
    return topic_id.split("-")[0].split("/")[0]


def call_rows(n_calls: int, seed: int) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each call of the corpus as a row of ``funding_calls`` and its rows of deadlines."""
    corpus = build_corpus(n_calls, 0, seed)
    docs = corpus.call_docs
    assert isinstance(docs, CallTexts)
    topics = load_topics()
    rng = np.random.default_rng(seed)
    kind = rng.random(n_calls)  # closed, forthcoming, withdrawn or as drawn
    source_of = rng.choice(len(SOURCES), n_calls, p=[share for *_, share in SOURCES])
    days = rng.integers(1, 300, n_calls)
    for i, facts in enumerate(corpus.call_facts):
        doc = docs[i]
        slug, funder_type, _ = SOURCES[source_of[i]]
        due = facts.next_deadline_at
        if kind[i] < 0.15 and due is not None:
            due = NOW - timedelta(days=int(days[i]))
        row = {
            "id": facts.call_id,
            "source": slug,
            "source_id": f"BENCH-{facts.call_id}",
            "url": f"https://example.org/calls/{facts.call_id}",
            "title": doc.title,
            "summary": doc.summary,
            "description_text": doc.description,
            "language": doc.language,
            "funder_type": funder_type,
            "programme": _programme(topics[i % len(topics)]["id"]),
            "status": "open",
            "deadline_model": "single" if due else "rolling",
            "opening_date": NOW.date() + timedelta(days=30) if 0.15 <= kind[i] < 0.25 else None,
            "next_deadline_at": due,
            "grant_min_eur": facts.grant_min_eur,
            "grant_max_eur": facts.grant_max_eur,
            "eligible_applicants": list(facts.eligible_applicants),
            "regions": list(facts.regions),
            "first_seen_at": NOW - timedelta(days=int(days[i])),
            "last_seen_at": NOW,
            "last_changed_at": NOW,
            "withdrawn_at": NOW if kind[i] > 0.99 else None,
        }
        deadlines = [{"call_id": facts.call_id, "due_at": due, "stage": "1"}] if due else []
        yield row, deadlines


def check_empty(engine: Engine) -> None:
    """Refuse a database that has any of our tables: the benchmark drops its tables after."""
    found = sorted(set(inspect(engine).get_table_names()) & set(Base.metadata.tables))
    if found:
        raise ValueError(
            f"{engine.url.render_as_string()} is not empty (it has {', '.join(found)}): "
            "give the benchmark an empty database"
        )


def store_corpus(engine: Engine, n_calls: int, seed: int, progress: Progress) -> None:
    """Create the tables in ``engine``'s empty database and store the corpus in it."""
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(Source),
            [
                {"slug": slug, "name": slug, "spider": slug, "funder_type": funder_type}
                for slug, funder_type, _ in SOURCES
            ],
        )
        calls: list[dict[str, Any]] = []
        deadlines: list[dict[str, Any]] = []
        for row, due in call_rows(n_calls, seed):
            calls.append(row)
            deadlines += due
            if len(calls) == 2000 or row["id"] == n_calls:
                conn.execute(insert(FundingCall), calls)
                if deadlines:
                    conn.execute(insert(CallDeadline), deadlines)
                if row["id"] % 10_000 == 0 or row["id"] == n_calls:
                    progress(f"  stored {row['id']:,} of {n_calls:,} calls")
                calls, deadlines = [], []


def add_fulltext(engine: Engine) -> None:
    """A stored tsvector of each call's text and a GIN index on it (PostgreSQL)."""
    vector = " || ".join(
        f"setweight(to_tsvector('{TS_CONFIG}', coalesce({column}, '')), '{weight}')"
        for column, weight in (("title", "A"), ("summary", "B"), ("description_text", "D"))
    )
    with engine.begin() as conn:
        conn.execute(
            text(
                "ALTER TABLE funding_calls ADD COLUMN search_vector tsvector "
                f"GENERATED ALWAYS AS ({vector}) STORED"
            )
        )
        conn.execute(
            text(
                "CREATE INDEX ix_funding_calls_search_vector"
                " ON funding_calls USING gin (search_vector)"
            )
        )
        conn.execute(text("ANALYZE funding_calls"))
        conn.execute(text("ANALYZE call_deadlines"))


def postgres_page(session: Session, flt: CallFilter) -> list[FundingCall]:
    """The first page of ``flt`` as PostgreSQL's full-text search ranks it."""
    vector = literal_column("funding_calls.search_vector")
    query = func.websearch_to_tsquery(literal_column(f"'{TS_CONFIG}'::regconfig"), flt.text)
    rank = func.ts_rank(vector, query)
    stmt = (
        apply_filter(select(FundingCall), flt, NOW)
        .where(vector.op("@@")(query))
        .options(selectinload(FundingCall.deadlines))
        .order_by(rank.desc(), FundingCall.id)
        .limit(PER_PAGE)
    )
    return list(session.scalars(stmt))


def deep_size_mb(root: object) -> float:
    """Bytes of every object reachable from ``root`` (numpy arrays with their data), in MB;
    classes, modules and functions are shared code, not the index, and are left out."""
    skip = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType)
    seen: set[int] = set()
    stack = [root]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, skip):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, np.ndarray):
            if obj.base is not None:
                stack.append(obj.base)
            continue
        stack.extend(gc.get_referents(obj))
    return total / 2**20


def _rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 2**20


def time_calls(
    sessions: sessionmaker[Session], answer: Callable[[Session, CallFilter], int], repeats: int
) -> dict[str, Any]:
    """Warm up, then time every case ``repeats`` times, a fresh session per call."""
    for q in WARMUP_QUERIES:
        for values in FILTERS.values():
            with sessions() as session:
                answer(session, CallFilter(text=q, **values))
    timings: list[float] = []
    empty = 0
    for _ in range(repeats):
        for flt in cases():
            with sessions() as session:
                started = time.perf_counter()
                hits = answer(session, flt)
                timings.append((time.perf_counter() - started) * 1000.0)
            empty += hits == 0
    return {
        "queries": len(timings),
        "p50_ms": round(statistics.median(timings), 2),
        "p95_ms": round(float(np.percentile(timings, 95)), 2),
        "max_ms": round(max(timings), 2),
        "empty_pages": empty,
    }


def measure_ours(
    engine: Engine, repeats: int, dictionary_path: str | None, progress: Progress
) -> dict[str, Any]:
    """The foerderdesk search on the calls in ``engine``, as the search page calls it."""
    sessions = make_session_factory(engine)
    holder = SearchIndexHolder(default_model_factory(dictionary_path))
    gc.collect()
    before = _rss_mb()
    started = time.perf_counter()
    with sessions() as session:
        index: SearchIndex = holder.get(session)
    build_seconds = time.perf_counter() - started
    gc.collect()
    grown = _rss_mb() - before
    progress(f"  index built in {build_seconds:.1f} s; timing the queries")

    def answer(facets: bool) -> Callable[[Session, CallFilter], int]:
        def page(session: Session, flt: CallFilter) -> int:
            found = search_calls(
                session, flt, index=holder.get, page=1, per_page=PER_PAGE, facets=facets, now=NOW
            )
            return len(found.hits)

        return page

    figures = time_calls(sessions, answer(True), repeats)
    progress("  the same without filter counts (as the JSON API asks)")
    plain = time_calls(sessions, answer(False), repeats)
    return {
        **figures,
        "index_mb": round(deep_size_mb(index), 1),
        "rss_growth_mb": round(grown, 1),
        "build_seconds": round(build_seconds, 2),
        "facets": True,
        "without_facets": {k: plain[k] for k in ("p50_ms", "p95_ms", "max_ms")},
    }


def measure_postgres(
    url: str, n_calls: int, seed: int, repeats: int, progress: Progress
) -> dict[str, Any]:
    """PostgreSQL's full-text search on the same calls, stored in the database at ``url``."""
    engine = make_engine(url)
    try:
        check_empty(engine)
        try:
            progress("postgres: storing the calls")
            store_corpus(engine, n_calls, seed, progress)
            return {"calls": n_calls, **_time_postgres(engine, repeats, progress)}
        finally:
            Base.metadata.drop_all(engine)  # the database is left empty, for the next run
    finally:
        engine.dispose()


def _time_postgres(engine: Engine, repeats: int, progress: Progress) -> dict[str, Any]:
    progress("postgres: tsvector column and GIN index")
    started = time.perf_counter()
    add_fulltext(engine)
    build_seconds = time.perf_counter() - started
    with engine.connect() as conn:
        size = conn.scalar(text("SELECT pg_relation_size('ix_funding_calls_search_vector')"))
    progress("postgres: timing the queries")
    figures = time_calls(
        make_session_factory(engine), lambda s, f: len(postgres_page(s, f)), repeats
    )
    return {
        **figures,
        "index_mb": round((size or 0) / 2**20, 1),
        "build_seconds": round(build_seconds, 2),
        "config": TS_CONFIG,
    }


def bench_search(
    n_calls: int,
    *,
    postgres_url: str | None = None,
    seed: int = 42,
    repeats: int = 2,
    dictionary_path: str | None = None,
    progress: Progress = _stderr,
) -> dict[str, Any]:
    """The report: foerderdesk's search at the top level, PostgreSQL's under ``baselines``."""
    if postgres_url:  # before the long SQLite part, not after it
        engine = make_engine(postgres_url)
        try:
            check_empty(engine)
        finally:
            engine.dispose()
    with tempfile.TemporaryDirectory(prefix="foerderdesk-bench-search-") as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'bench.sqlite3'}")
        try:
            progress(f"sqlite: storing {n_calls:,} calls")
            store_corpus(engine, n_calls, seed, progress)
            progress("sqlite: building the search index")
            report: dict[str, Any] = {
                "calls": n_calls,
                **measure_ours(engine, repeats, dictionary_path, progress),
                "database": "sqlite",
            }
        finally:
            engine.dispose()
    report["baselines"] = {}
    if postgres_url:
        report["baselines"]["postgres"] = measure_postgres(
            postgres_url, n_calls, seed, repeats, progress
        )
    return report
