"""Term weights: the reference corpus as an IDF prior, and bigrams found in one call only."""

from __future__ import annotations

import numpy as np

from matcher.analysis import Analyzer
from matcher.documents import Document
from matcher.vectorize import TextModel
from matcher.weighting import (
    count_reference,
    reference_counts,
    reference_document_frequencies,
    smoothed_idf,
)

# Short, specific calls as a funding portal lists them; one of them happens to be worded
# like a proposal ("solutions", "approach", "develop").
PROSE_CALLS = [
    Document(title="Marine monitoring", description="Ocean observation from satellites."),
    Document(
        title="Innovative solutions",
        description="Develop a new approach and solutions for small businesses.",
    ),
    Document(title="Urban mobility", description="Cycling and public transport in cities."),
    Document(title="Heat pumps", description="Heat pumps for residential buildings."),
    Document(title="Youth exchanges", description="Young people meet across borders."),
]
PROPOSAL = Document(
    description="We develop innovative solutions and a new approach for marine monitoring."
)


def _order(model: TextModel, calls: list[Document], query: Document) -> list[int]:
    vectors = model.fit_transform(calls)
    scores = (model.transform_queries([query]) @ vectors.T).toarray()[0]
    return [int(i) for i in np.lexsort((np.arange(len(scores)), -scores))]


def test_reference_corpus_stops_proposal_words_outweighing_the_subject() -> None:
    # The calls alone make "solutions" and "approach" as rare as "marine": the proposal-worded
    # call wins on four such words. The reference corpus knows them as everyday prose.
    assert _order(TextModel(reference_weight=0.0), PROSE_CALLS, PROPOSAL)[0] == 1
    assert _order(TextModel(), PROSE_CALLS, PROPOSAL)[0] == 0


def test_reference_lowers_idf_of_common_prose_more_than_of_subject_words() -> None:
    alone = TextModel(reference_weight=0.0).fit(PROSE_CALLS)
    steadied = TextModel().fit(PROSE_CALLS)
    prose = alone.vocabulary["solut"]
    subject = alone.vocabulary["marin"]
    assert steadied.vocabulary["solut"] == prose  # the reference adds no columns
    assert steadied.idf[prose] < steadied.idf[subject]
    assert alone.idf[prose] == alone.idf[subject]


def test_german_calls_keep_their_own_statistics() -> None:
    calls = [
        Document(title="Klimaanpassung in Kommunen", language="de"),
        Document(title="Jugendaustausch mit Partnerstädten", language="de"),
        Document(title="Lösungen für kleine Unternehmen", language="de"),
    ]
    with_reference = TextModel().fit(calls)
    without = TextModel(reference_weight=0.0).fit(calls)
    assert np.array_equal(with_reference.idf, without.idf)


def test_pair_found_in_one_call_lifts_that_call() -> None:
    calls = [
        Document(title="Storage of heat and cold for urban districts"),
        Document(title="Urban heat: shading, greening and cooling of streets in hot summers"),
        Document(title="Urban gardens"),
        Document(title="Heat pumps"),
    ]
    query = Document(description="urban heat")
    # Without the pair the shorter call wins on the same two words; the pair "urban heat",
    # which only the second call has, is what says which call is about the query.
    assert _order(TextModel(min_bigram_df=2), calls, query)[0] == 0
    assert _order(TextModel(), calls, query)[0] == 1


def test_count_reference_counts_documents_not_occurrences() -> None:
    counts = count_reference(
        ["marine data, marine data", "marine monitoring", "the data"], Analyzer()
    )
    df = dict(zip(counts.stems, counts.df.tolist(), strict=True))
    assert df == {"marin": 2.0, "data": 2.0, "monitor": 1.0}
    pairs = {
        (counts.stems[a], counts.stems[b]): n
        for (a, b), n in zip(counts.pairs.tolist(), counts.pair_df.tolist(), strict=True)
    }
    assert pairs == {("marin", "data"): 1.0, ("data", "marin"): 1.0, ("marin", "monitor"): 1.0}
    assert counts.n_docs == 3


def test_reference_frequencies_land_on_the_vocabulary_columns() -> None:
    counts = count_reference(["marine data", "marine monitoring", "ocean data"], Analyzer())
    stem_ids = {"data": 0, "marin": 1, "wind": 2}
    bigram_codes = np.array([1 * 3 + 0, 2 * 3 + 0], dtype=np.int64)  # "marin data", "wind data"
    df = reference_document_frequencies(counts, stem_ids, 3, bigram_codes)
    # data, marin, wind, "marin data", "wind data"; unknown stems and pairs are dropped.
    assert df.tolist() == [2.0, 2.0, 0.0, 1.0, 0.0]


def test_shipped_reference_corpus_is_counted_once() -> None:
    first = reference_counts()
    assert first is reference_counts()
    assert first.n_docs > 100
    assert len(first.stems) == len(first.df)


def test_smoothed_idf_ranks_rarer_terms_higher_and_stays_positive() -> None:
    idf = smoothed_idf(np.array([0.0, 1.0, 10.0, 100.0]), 100)
    assert np.all(np.diff(idf) < 0)
    assert idf[-1] > 0
