"""The analysis cache: unchanged calls are not analysed again, and results stay the same."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import matcher.cache as cache_module
from matcher.cache import AnalysisCache
from matcher.corpus import CorpusAnalysis
from matcher.counting import count_calls
from matcher.documents import Document
from matcher.parallel import Parallelism
from matcher.terms import surface_words, top_terms
from matcher.vectorize import TextModel
from tests.matcher.test_vectorize import CALLS, FORKING

IDS = list(range(101, 101 + len(CALLS)))


def _by_term(model: TextModel, index) -> dict[tuple[int, str], float]:  # type: ignore[no-untyped-def]
    """The word block of an index (terms × calls), keyed by call and term."""
    words = index[: len(model.vocabulary)].tocoo()
    return {
        (int(c), model.vocabulary.term(int(r))): float(v)
        for r, c, v in zip(words.row, words.col, words.data, strict=True)
    }


def _fit_analysed(model: TextModel, analysis: CorpusAnalysis):  # type: ignore[no-untyped-def]
    return model.fit_index_counts(count_calls(analysis, model.params, model.parallelism))


def _assert_same_vectors(a: TextModel, va, b: TextModel, vb) -> None:  # type: ignore[no-untyped-def]
    left, right = _by_term(a, va), _by_term(b, vb)
    assert left.keys() == right.keys()
    assert np.allclose([left[k] for k in left], [right[k] for k in left], atol=1e-6)


def test_second_run_reuses_unchanged_calls_and_reads_the_changed_one(tmp_path: Path) -> None:
    cache = AnalysisCache(tmp_path)
    _, first = cache.analyse(TextModel(), IDS, CALLS)
    assert (first.reused, first.analysed) == (0, len(CALLS))
    changed = list(CALLS)
    changed[2] = replace(CALLS[2], title="Circular economy and town twinning in cities")
    model = TextModel()
    analysis, second = cache.analyse(model, IDS, changed)
    assert (second.reused, second.analysed) == (len(CALLS) - 1, 1)
    warm = _fit_analysed(model, analysis)
    cold_model = TextModel()
    cold = cold_model.fit_index(changed)
    _assert_same_vectors(model, warm, cold_model, cold)


def test_same_text_under_another_call_id_is_analysed(tmp_path: Path) -> None:
    cache = AnalysisCache(tmp_path)
    cache.analyse(TextModel(), IDS, CALLS)
    _, stats = cache.analyse(TextModel(), [i + 1000 for i in IDS], CALLS)
    assert stats.reused == 0


def test_new_order_and_dropped_calls_keep_each_call_its_own_analysis(tmp_path: Path) -> None:
    cache = AnalysisCache(tmp_path)
    cache.analyse(TextModel(), IDS, CALLS)
    order = [4, 0, 5, 2]
    model = TextModel()
    analysis, stats = cache.analyse(model, [IDS[i] for i in order], [CALLS[i] for i in order])
    assert stats.reused == 4
    cold_model = TextModel()
    _assert_same_vectors(
        model,
        _fit_analysed(model, analysis),
        cold_model,
        cold_model.fit_index([CALLS[i] for i in order]),
    )


def test_changed_analysis_signature_discards_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = AnalysisCache(tmp_path)
    cache.analyse(TextModel(), IDS, CALLS)
    monkeypatch.setattr(cache_module, "CACHE_FORMAT", cache_module.CACHE_FORMAT + 1)
    _, stats = cache.analyse(TextModel(), IDS, CALLS)
    assert stats.reused == 0


def test_damaged_cache_file_means_a_full_analysis_not_an_error(tmp_path: Path) -> None:
    cache = AnalysisCache(tmp_path)
    cache.analyse(TextModel(), IDS, CALLS)
    cache.path.write_bytes(b"not a zip file")
    _, stats = cache.analyse(TextModel(), IDS, CALLS)
    assert (stats.reused, stats.analysed) == (0, len(CALLS))
    _, again = cache.analyse(TextModel(), IDS, CALLS)
    assert again.reused == len(CALLS)


def test_explanations_stay_readable_with_a_cached_analysis(tmp_path: Path) -> None:
    cache = AnalysisCache(tmp_path)
    cache.analyse(TextModel(), IDS, CALLS)
    model = TextModel()
    analysis, _ = cache.analyse(model, IDS, CALLS)
    calls = _fit_analysed(model, analysis)
    queries = model.transform_queries([Document(description="youth exchanges", language="en")])
    words = [w for w, _ in top_terms(model, 0, queries, 1, calls.T.tocsr())]
    assert "exchanges" in " ".join(words) or "exchange" in " ".join(words)


def _rankings(model: TextModel, calls) -> list[list[int]]:  # type: ignore[no-untyped-def]
    queries = model.transform_queries(
        [
            Document(description="Jugendaustausch und Städtepartnerschaft", language="de"),
            Document(description="circular economy for cities", language="en"),
            Document(title="climate adaptation", language="en"),
        ]
    )
    scores = (queries @ calls).toarray()
    return [[int(i) for i in np.argsort(-row, kind="stable")] for row in scores]


def test_profile_edit_rematch_reuses_the_fitted_calls_and_ranks_like_a_cold_fit(
    tmp_path: Path,
) -> None:
    cache = AnalysisCache(tmp_path)
    cache.fit_index(TextModel(), IDS, CALLS)
    model = TextModel()
    warm, stats = cache.fit_index(model, IDS, CALLS)
    assert (stats.fitted, stats.reused, stats.analysed) == (True, len(CALLS), 0)
    cold_model = TextModel()
    cold = cold_model.fit_index(CALLS)
    _assert_same_vectors(model, warm, cold_model, cold)
    assert _rankings(model, warm) == _rankings(cold_model, cold)


def test_forgetting_the_calls_means_a_cold_fit_and_keeps_other_files(tmp_path: Path) -> None:
    cache = AnalysisCache(tmp_path)
    cache.fit_index(TextModel(), IDS, CALLS)
    kept = tmp_path / "dictionary_index.npz"  # stands for what does not depend on the calls
    kept.write_bytes(b"parsed index")
    cache.forget_calls()
    assert sorted(p.name for p in tmp_path.iterdir()) == [kept.name]
    # A new cache object and this one alike analyse every call again.
    for again in (AnalysisCache(tmp_path), cache):
        again.forget_calls()
        _, stats = again.fit_index(TextModel(), IDS, CALLS)
        assert (stats.fitted, stats.reused, stats.analysed) == (False, 0, len(CALLS))
    assert kept.read_bytes() == b"parsed index"


def test_changed_new_and_dropped_calls_update_the_fitted_rows_like_a_cold_fit(
    tmp_path: Path,
) -> None:
    cache = AnalysisCache(tmp_path)
    cache.fit_index(TextModel(), IDS, CALLS)
    # One call rewritten (new words and pairs), one dropped (its words may vanish), one new.
    docs = [replace(CALLS[2], title="Kreislaufwirtschaft: zero waste harbours and ports")]
    docs += [CALLS[i] for i in range(len(CALLS)) if i not in (2, 3)]
    docs.append(Document(title="Urban heat islands", description="Trees cool hot streets."))
    ids = [IDS[2], *[IDS[i] for i in range(len(CALLS)) if i not in (2, 3)], 999]
    model = TextModel()
    warm, stats = cache.fit_index(model, ids, docs)
    assert (stats.fitted, stats.analysed) == (True, 2)
    cold_model = TextModel()
    cold = cold_model.fit_index(docs)
    assert len(model.vocabulary) == len(cold_model.vocabulary)
    assert np.allclose(np.sort(model.idf), np.sort(cold_model.idf))
    _assert_same_vectors(model, warm, cold_model, cold)
    assert _rankings(model, warm) == _rankings(cold_model, cold)
    # And the updated cache serves the next run unchanged.
    again = TextModel()
    vectors, stats = cache.fit_index(again, ids, docs)
    assert (stats.fitted, stats.analysed) == (True, 0)
    _assert_same_vectors(again, vectors, cold_model, cold)


def test_changed_field_weights_discard_the_fitted_calls(tmp_path: Path) -> None:
    cache = AnalysisCache(tmp_path)
    cache.fit_index(TextModel(), IDS, CALLS)
    _, stats = cache.fit_index(TextModel(title_weight=3.0), IDS, CALLS)
    assert not stats.fitted
    assert stats.reused == len(CALLS)  # the analysis layer still serves


def _words_read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the documents the cache has read for their surface words (per read)."""
    read: list[int] = []

    def counting(model, docs, wanted=None, **kwargs):  # type: ignore[no-untyped-def]
        read.append(len(docs))
        return surface_words(model, docs, wanted, **kwargs)

    monkeypatch.setattr(cache_module, "surface_words", counting)
    return read


def _model_and_every_term() -> tuple[TextModel, list[set[str]]]:
    model = TextModel()
    model.fit(CALLS)
    return model, [set(surface_words(model, [doc])[0]) for doc in CALLS]


def test_without_a_cold_fits_analysis_the_words_are_read_from_the_texts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, wanted = _model_and_every_term()
    expected = surface_words(model, CALLS, wanted)
    read = _words_read(monkeypatch)
    assert AnalysisCache(tmp_path).cached_surface_words(model, IDS, CALLS, wanted) == expected
    assert read == [len(CALLS)]


def test_a_later_fit_does_not_name_words_from_an_earlier_fits_analysis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = AnalysisCache(tmp_path)
    cache.fit_index(TextModel(), IDS, CALLS)
    changed = list(CALLS)
    changed[1] = replace(CALLS[1], title="Town twinning for cities and citizens")
    model = TextModel()
    _, stats = cache.fit_index(model, IDS, changed)  # reuses the fitted side, analyses one
    assert (stats.fitted, stats.analysed) == (True, 1)
    wanted = [set(surface_words(model, [doc])[0]) for doc in changed]
    read = _words_read(monkeypatch)
    words = cache.cached_surface_words(model, IDS, changed, wanted)
    assert read == [len(CALLS)]
    assert words == surface_words(model, changed, wanted)


class _OnDemand(Sequence[Document]):
    """Documents built when asked for, counting how many of them were alive at once."""

    def __init__(self, docs: list[Document]) -> None:
        self._docs = docs
        self._alive: weakref.WeakSet[Document] = weakref.WeakSet()
        self.most_alive = 0

    def __len__(self) -> int:
        return len(self._docs)

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        doc = replace(self._docs[index])  # a new object, as a reader building it would make
        self._alive.add(doc)
        self.most_alive = max(self.most_alive, len(self._alive))
        return doc


def test_the_cache_reads_a_corpus_a_chunk_at_a_time_never_as_a_whole(tmp_path: Path) -> None:
    # A corpus too big to hold as strings may build its documents on demand; neither a cold
    # fit (on two processes here), nor an update, nor the explanations may hold all of it.
    by_two = Parallelism(read_chunk=2)
    texts = [replace(doc, title=f"{doc.title} {n}") for n in range(3) for doc in CALLS]
    ids = list(range(1, len(texts) + 1))
    docs = _OnDemand(texts)
    cache = AnalysisCache(tmp_path)
    model = TextModel(parallelism=replace(FORKING, read_chunk=2))
    vectors, stats = cache.fit_index(model, ids, docs)
    assert stats.analysed == len(texts)
    assert docs.most_alive <= 4  # two chunks: the one read and the one before
    cold_model = TextModel()
    _assert_same_vectors(model, vectors, cold_model, cold_model.fit_index(texts))
    texts[0] = replace(texts[0], title="Zero waste harbours")
    docs = _OnDemand(texts)
    model = TextModel(parallelism=by_two)
    vectors, stats = cache.fit_index(model, ids, docs)
    assert (stats.fitted, stats.analysed) == (True, 1)
    cold_model = TextModel()
    _assert_same_vectors(model, vectors, cold_model, cold_model.fit_index(texts))
    wanted = [{"harbour"}] + [{"citi"}] * (len(texts) - 1)
    words = cache.cached_surface_words(model, ids, docs, wanted)
    assert words[0].get("harbour") == "harbours"
    assert docs.most_alive <= 4  # two chunks: the one read and the one before


def test_a_cold_fit_hashes_the_texts_as_its_two_processes_read_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    analysis = TextModel(parallelism=FORKING).reader.analyse_calls(CALLS, hashed=True)
    assert analysis.hashes is not None
    assert analysis.hashes.tolist() == [cache_module.content_hash(doc) for doc in CALLS]
    assert analysis.take(np.array([3, 0])).hashes.tolist() == [  # type: ignore[union-attr]
        cache_module.content_hash(CALLS[3]),
        cache_module.content_hash(CALLS[0]),
    ]
    cache = AnalysisCache(tmp_path)
    cache.fit_index(TextModel(), IDS, CALLS)
    # The next run finds every call unchanged by those hashes, and the edited one changed.
    docs = [*CALLS[:-1], replace(CALLS[-1], summary="Now also for ports.")]
    _, stats = cache.fit_index(TextModel(), IDS, docs)
    assert (stats.fitted, stats.reused, stats.analysed) == (True, len(CALLS) - 1, 1)


def test_after_a_cold_fit_the_words_come_from_its_analysis_without_reading_the_texts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference, wanted = _model_and_every_term()
    expected = surface_words(reference, CALLS, wanted)
    cache = AnalysisCache(tmp_path)
    model = TextModel()
    cache.fit_index(model, IDS, CALLS)
    read = _words_read(monkeypatch)
    assert cache.cached_surface_words(model, IDS, CALLS, wanted) == expected
    assert read == []
    # The analysis names one re-match's words only; the next one reads the texts.
    asked = [w | {"harbour"} for w in wanted[:2]]
    assert cache.cached_surface_words(model, IDS[:2], CALLS[:2], asked) == expected[:2]
    assert read == [2]
