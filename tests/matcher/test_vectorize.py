"""The text model: field weights, normalisation, cross-language expansion, determinism."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from matcher.counting import Counting, count_calls
from matcher.documents import Document
from matcher.kernels.counting import column_counts
from matcher.params import Parallelism
from matcher.terms import bridge_words, surface_words, top_terms
from matcher.vectorize import TextModel
from matcher.vocabulary import Vocabulary


def similarity(queries, calls) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Every query's score against every call (both as rows): the sum of the two cosines."""
    return (queries @ calls.T).toarray()


TINY_DICTIONARY = str(Path(__file__).parent.parent / "data" / "matcher" / "tiny-deu-eng")

CALLS = [
    Document(
        title="Town twinning and networks of towns",
        summary="Citizens of twinned towns meet and debate the future of Europe.",
        keywords="town twinning, civic participation",
        language="en",
    ),
    Document(
        title="Youth exchanges",
        summary="Young people from different countries meet in a youth exchange.",
        keywords="youth exchange, non-formal learning",
        language="en",
    ),
    Document(
        title="Circular economy in cities",
        description="Recycling, reuse and waste prevention in cities and regions.",
        keywords="circular economy",
        language="en",
    ),
    Document(
        title="Climate mitigation in municipalities",
        description="Plans to cut greenhouse gas emissions of local authorities.",
        keywords="climate mitigation",
        language="en",
    ),
    Document(
        title="Safer road traffic",
        description="Road traffic safety for cyclists and pedestrians in urban areas.",
        language="en",
    ),
    Document(
        title="Förderung von Klimaanpassung in Kommunen",
        description="Die Kommunen entwickeln Strategien zur Anpassung an Hitze und Starkregen.",
        language="de",
    ),
]


def _ranking(model: TextModel, query: Document) -> list[int]:
    calls = model.fit_transform(CALLS)
    scores = similarity(model.transform_queries([query]), calls)[0]
    return [int(i) for i in np.lexsort((np.arange(len(scores)), -scores))]


def test_rows_are_unit_length() -> None:
    model = TextModel()
    calls = model.fit_transform(CALLS)
    norms = np.sqrt(np.asarray(calls.multiply(calls).sum(axis=1)).ravel())
    assert np.allclose(norms, 1.0, atol=1e-5)
    queries = model.transform_queries([Document(description="youth exchange in a city")])
    assert np.isclose(np.sqrt(queries.multiply(queries).sum()), 1.0, atol=1e-5)


def test_english_query_ranks_the_obvious_call_first() -> None:
    query = Document(description="We plan a youth exchange for young people from four countries.")
    assert _ranking(TextModel(), query)[0] == 1


def test_german_query_finds_the_english_call_through_the_glossary() -> None:
    query = Document(
        description="Wir wollen unsere Städtepartnerschaft mit Begegnungen beleben.",
        language="de",
    )
    with_glossary = TextModel()
    assert _ranking(with_glossary, query)[0] == 0
    without = TextModel(glossary=False, ngram_weight=0.0)
    calls = without.fit_transform(CALLS)
    scores = similarity(without.transform_queries([query]), calls)[0]
    assert scores[0] == pytest.approx(0.0, abs=1e-6)


def test_unknown_language_is_detected_for_expansion() -> None:
    query = Document(
        description="Die Stadt plant ein Konzept für den Klimaschutz und die Verwaltung."
    )
    assert _ranking(TextModel(), query)[0] == 3


def test_english_query_finds_the_german_call_through_the_glossary() -> None:
    query = Document(description="Climate adaptation strategies against heat", language="en")
    assert _ranking(TextModel(), query)[0] == 5


def test_dictionary_carries_words_the_glossary_lacks() -> None:
    query = Document(description="Mehr Sicherheit im Verkehr für Radfahrende", language="de")
    glossary_terms = TextModel(dictionary_weight=1.0, cognate_weight=0.0, ngram_weight=0.0)
    with_dictionary = TextModel(
        dictionary_path=TINY_DICTIONARY, glossary=False, cognate_weight=0.0, ngram_weight=0.0
    )
    without = TextModel(glossary=False, cognate_weight=0.0, ngram_weight=0.0)
    assert _ranking(with_dictionary, query)[0] == 4
    calls = without.fit_transform(CALLS)
    assert similarity(without.transform_queries([query]), calls)[0, 4] == 0.0
    assert _ranking(glossary_terms, query)[0] == 4  # "Verkehr" is in the glossary too


def test_a_second_fit_expands_queries_into_its_own_vocabulary() -> None:
    """The dictionary's renderings are kept per vocabulary: after a fit on calls without
    "traffic", a fit on calls with it must let "Verkehr" reach them."""
    query = Document(description="Mehr Sicherheit im Verkehr für Radfahrende", language="de")
    model = TextModel(
        dictionary_path=TINY_DICTIONARY, glossary=False, cognate_weight=0.0, ngram_weight=0.0
    )
    without_traffic = [doc for doc in CALLS if "traffic" not in doc.title]
    model.fit(without_traffic)
    model.transform_queries([query])  # the renderings found in this vocabulary are kept
    assert _ranking(model, query)[0] == 4


def test_missing_dictionary_is_logged_and_matching_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = TextModel(dictionary_path=str(tmp_path / "absent"))
    query = Document(description="Jugendaustausch mit der Partnerstadt", language="de")
    with caplog.at_level(logging.WARNING, logger="matcher.vectorize"):
        assert _ranking(model, query)[0] == 1
    assert "without the dictionary" in caplog.text


def test_umlaut_free_spelling_matches_the_umlaut_spelling() -> None:
    model = TextModel(glossary=False)
    calls = model.fit_transform(CALLS)
    plain = model.transform_queries(
        [Document(description="Forderung Klimaanpassung", language="de")]
    )
    scores = similarity(plain, calls)[0]
    assert int(np.argmax(scores)) == 5


def test_ngram_block_lets_a_compound_meet_its_parts() -> None:
    query = Document(description="Hitzeanpassungsstrategien", language="de")
    with_ngrams = TextModel(glossary=False, ngram_weight=0.3)
    calls = with_ngrams.fit_transform(CALLS)
    assert int(np.argmax(similarity(with_ngrams.transform_queries([query]), calls))) == 5
    words_only = TextModel(glossary=False, ngram_weight=0.0)
    calls = words_only.fit_transform(CALLS)
    assert similarity(words_only.transform_queries([query]), calls).max() == 0.0


def test_title_counts_more_than_description() -> None:
    calls = [
        Document(title="Cultural heritage", description="Museums and archives.", language="en"),
        Document(title="Museums", description="Cultural heritage and archives.", language="en"),
    ]
    model = TextModel(ngram_weight=0.0)
    vectors = model.fit_transform(calls)
    scores = similarity(model.transform_queries([Document(description="heritage")]), vectors)
    assert scores[0, 0] > scores[0, 1] > 0.0


def test_fitting_twice_gives_identical_vectors_and_scores() -> None:
    first, second = TextModel(), TextModel()
    a, b = first.fit_transform(CALLS), second.fit_transform(CALLS)
    assert (a != b).nnz == 0
    query = [Document(description="Jugendaustausch und Klimaschutz", language="de")]
    assert np.array_equal(
        similarity(first.transform_queries(query), a),
        similarity(second.transform_queries(query), b),
    )


def test_fit_then_transform_equals_fit_transform() -> None:
    model = TextModel()
    fitted = model.fit_transform(CALLS)
    assert (model.transform_calls(CALLS) != fitted).nnz == 0


def test_transform_before_fit_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="fit"):
        TextModel().transform_calls(CALLS)


def test_unknown_parameter_is_rejected() -> None:
    with pytest.raises(TypeError, match="no_such_weight"):
        TextModel(no_such_weight=1.0)


def test_top_terms_are_readable_words_shared_by_query_and_call() -> None:
    model = TextModel()
    calls = model.fit_transform(CALLS)
    queries = model.transform_queries(
        [Document(description="a circular economy for the waste of our cities")]
    )
    terms = top_terms(model, 0, queries, 2, calls, n=3)
    words = [word for word, _ in terms]
    assert "circular economy" in words or "circular" in words
    assert all(weight > 0 for _, weight in terms)
    assert [w for _, w in terms] == sorted((w for _, w in terms), reverse=True)
    assert top_terms(model, 0, queries, 1, calls) == []


@pytest.mark.parametrize("chunk", [1, 2, 5])
def test_counts_of_many_batches_on_two_threads_equal_the_counts_of_one_batch(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """Each thread copies its batches' rows into the one result as soon as the batch before
    is counted; the result must be the rows of one batch of all calls, empty calls too."""
    calls = [*CALLS, Document(title=""), *CALLS[::-1], Document(title="Verkehr")]
    model = TextModel(parallelism=Parallelism(count_chunk=chunk))
    fitted = count_calls(model.reader.analyse_calls(calls), model.params, model.parallelism)
    analysis = model.reader.analyse_calls(calls)
    (whole,) = analysis.batches(len(calls))
    vocabulary = Vocabulary(
        {stem: i for i, stem in enumerate(fitted.stems)}, fitted.stems, len(fitted.stems)
    )
    vocabulary.bigram_codes = fitted.bigram_codes
    counts = fitted.counts
    expected = Counting.of(vocabulary, model.params, model.parallelism.threads).rows(whole)
    assert counts.shape == expected.shape
    assert np.array_equal(counts.indptr, expected.indptr)
    assert np.array_equal(counts.indices, expected.indices)
    assert np.array_equal(counts.data, expected.data)


def test_a_batch_that_fails_to_count_fails_the_counting_without_a_hang(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = TextModel(parallelism=Parallelism(count_chunk=1))
    analysis = model.reader.analyse_calls(CALLS * 4)
    real = Counting.into
    seen: list[int] = []

    def flaky(self: Counting, batch: Any, *arrays: np.ndarray) -> int:
        seen.append(1)
        if len(seen) == 3:
            raise MemoryError("no room")
        return real(self, batch, *arrays)

    monkeypatch.setattr(Counting, "into", flaky)
    with pytest.raises(MemoryError, match="no room"):
        count_calls(analysis, model.params, model.parallelism)


def test_rare_stem_pairs_are_dropped_as_if_they_were_never_counted() -> None:
    calls = [*CALLS, *CALLS[:3]]  # the first calls' pairs are in two calls, the rest in one
    model = TextModel(min_bigram_df=2)
    analysis = model.reader.analyse_calls(calls)
    fitted = count_calls(analysis, model.params, model.parallelism)
    every = count_calls(analysis, replace(model.params, min_bigram_df=1), model.parallelism)
    assert 0 < len(fitted.bigram_codes) < len(every.bigram_codes)
    n_stems = len(fitted.stems)
    assert column_counts(fitted.counts.indices, fitted.counts.shape[1])[n_stems:].min() >= 2
    vocabulary = Vocabulary({stem: i for i, stem in enumerate(fitted.stems)}, fitted.stems, n_stems)
    vocabulary.bigram_codes = fitted.bigram_codes
    (whole,) = analysis.batches(len(calls))
    expected = Counting.of(vocabulary, model.params, 1).rows(whole)
    assert fitted.counts.shape == expected.shape
    assert (fitted.counts != expected).nnz == 0


def test_the_index_is_the_transpose_of_the_calls_vectors() -> None:
    """Ranking reads terms x calls written part by part (a part per thread) into arrays sized
    from the fit's column counts; it must hold exactly the calls' vectors as
    ``transform_calls`` makes them one by one, each term's row sorted."""
    calls = CALLS * 3
    model = TextModel(parallelism=Parallelism(threads=2))
    by_term = model.fit_index(calls)
    by_call = model.transform_calls(calls)
    assert by_term.shape == (by_call.shape[1], by_call.shape[0])
    for row in range(by_term.shape[0]):
        span = by_term.indices[by_term.indptr[row] : by_term.indptr[row + 1]]
        assert np.all(np.diff(span) > 0)
    assert (by_term != by_call.T.tocsr()).nnz == 0
    assert by_term.nnz == by_call.nnz > 0


def test_many_queries_with_new_words_are_explained_by_their_own_words() -> None:
    """A re-match transforms hundreds of profiles whose words the calls never use; the
    bridges of every one of them must name the profile's own words (they were lost, and
    the explanation crashed, when half of the queries were analysed in a forked process
    that numbered their new words in a table of its own)."""
    queries = [
        Document(title=f"Städtepartnerschaft Neuwort{i} und Jugendaustausch", language="de")
        for i in range(250)
    ]
    model = TextModel(dictionary_path=TINY_DICTIONARY)
    model.fit(CALLS)
    vectors = model.transform_queries(queries)
    bridges = model.query_bridges
    assert bridges is not None and len(bridges) == 250
    rows = [row for row, columns in enumerate(bridges.columns) for _ in columns]
    columns = [col for bridged in bridges.columns for col in bridged]
    assert rows and set(rows) == set(range(250))
    named = bridge_words(model, rows, columns)
    assert all(found is not None and found[1] == "de" for found in named)
    assert {found[0] for found in named if found} >= {"Städtepartnerschaft"}
    assert vectors.shape[0] == 250


FORMS = [
    Document(title="Cities and city twinning", description="Twinned cities. CITY twins city."),
    Document(
        title="Städtepartnerschaft", description="Städte und Stadt; städte STÄDTE", language="de"
    ),
    Document(title="Youth exchanges", description="exchange exchanged exchanges exchange"),
]


def test_a_calls_words_are_its_most_used_forms_in_any_chunks() -> None:
    calls = FORMS + CALLS + FORMS[::-1]
    model = TextModel()
    model.fit(calls)
    expected = surface_words(model, calls)
    assert expected[0]["citi"] == "city"  # three times, against two "cities"
    assert expected[0]["twin"] == "twinning"  # three forms once each: the first seen
    assert expected[2]["exchang"] == "exchanges"  # twice each with "exchange": the title first
    assert surface_words(model, calls[2:3], [{"exchang", "harbour"}]) == [
        {"exchang": "exchanges"}  # a stem the call does not use is left out
    ]
    model.reader.parallelism = Parallelism(read_chunk=1)
    assert surface_words(model, calls) == expected
