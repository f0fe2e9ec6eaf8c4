"""Calls and queries are read by two implementations of one analysis: the compiled chunked
reader for call corpora (``TextReader.analyse_calls``) and the per-document reader for
profiles and searches (``TextReader.read``). They must give the same language guess and the
same stems, field by field and in order, or a profile would miss words its calls share."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.analysis import Analyzer
from matcher.documents import FIELDS, Document
from matcher.params import Parallelism
from matcher.reader import TextReader
from tests.matcher.test_golden_rankings import _bench_corpus, _snapshot_corpus

Read = list[tuple[str, dict[str, list[str]]]]


def _per_document(docs: list[Document]) -> Read:
    reader = TextReader(Analyzer(), Parallelism())
    batch = reader.read(docs, keep=True)
    return [
        (language, {name: [reader.stems[i] for i in doc[name]] for name in FIELDS})
        for language, doc in zip(batch.languages, batch.docs or [], strict=True)
    ]


def _compiled(docs: list[Document]) -> Read:
    analysis = TextReader(Analyzer(), Parallelism()).analyse_calls(docs)
    starts = {name: 0 for name in FIELDS}
    out: Read = []
    for k, language in enumerate(analysis.languages):
        fields = {}
        for name in FIELDS:
            n = int(analysis.lengths[name][k])
            ids = analysis.ids[name][starts[name] : starts[name] + n]
            starts[name] += n
            fields[name] = [analysis.stems[i] for i in ids.tolist()]
        out.append((language, fields))
    return out


def test_both_readers_agree_on_the_snapshot_and_bench_calls_and_profiles() -> None:
    calls, _, profiles, _, _ = _snapshot_corpus()
    bench_calls, _, bench_profiles, _, _ = _bench_corpus()
    docs = calls + profiles + bench_calls[:1500] + bench_profiles
    # The same texts undeclared, so that the language guesses are compared too.
    docs += [replace(doc, language="") for doc in docs[::3]]
    assert _compiled(docs) == _per_document(docs)


WORDS = st.sampled_from([
    "Förderung", "für", "Kommunen", "the", "city", "and", "und", "der", "STRASSE", "Straße",
    "climate-neutral", "Jugendaustausch", "naïve", "café", "Łódź", "CO2", "2021–2027", "ÆØ",
    "of", "die", "in", "to", "with", "mit", "Städtepartnerschaft", "e.V.", "x_y", "\u00a0",
])  # fmt: skip
TEXT = st.lists(WORDS | st.text(max_size=12), max_size=40).map(" ".join)


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(st.lists(st.builds(Document, title=TEXT, summary=TEXT, description=TEXT, keywords=TEXT,
                          language=st.sampled_from(["", "", "de", "en"])),
                min_size=1, max_size=6))  # fmt: skip
def test_both_readers_agree_on_arbitrary_text(docs: list[Document]) -> None:
    assert _compiled(docs) == _per_document(docs)
