"""The text model: bilingual, field-weighted TF-IDF with a character n-gram block.

A call or a profile becomes one L2-normalised sparse row made of two blocks:

* the word block: Snowball stems and stem bigrams, sublinear tf per field, summed with field
  weights (a word in the title counts more than one in the description), times the smoothed
  IDF of the call corpus;
* the n-gram block: character n-grams of each vocabulary stem, obtained by multiplying the
  doc-term matrix with a term→n-gram matrix (so n-grams are computed once per distinct stem,
  not over every document's text). It lets "Klimaanpassung" meet "Anpassung", and cognates
  such as "Digitalisierung"/"digitalisation" meet across languages.

Each block is L2-normalised and scaled by the square root of its weight before the two are
stacked, so every row has unit length and one sparse dot product gives the weighted sum of
the two cosines. Queries (project and partner profiles) are expanded across languages first:
the glossary, then (optionally) the freedict dictionary for words the glossary lacks, each
alternative weighted by its IDF among the call corpus.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import multiprocessing
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from itertools import pairwise
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from matcher import kernels
from matcher.analysis import LANGUAGE_MARKERS, Analyzer, tokenize
from matcher.bridges import Bridge, QueryBridges, SourceWords, note_bridge
from matcher.corpus import (
    Batch,
    CallCounts,
    ChunkTokens,
    CorpusAnalysis,
    merge_words,
    used_stems_only,
)
from matcher.counting import Counting
from matcher.dictionary import INDEX_FILE, DictionaryError, FreeDict
from matcher.documents import FIELDS, Document, content_hash, pick_documents
from matcher.glossary import PhraseTable, Terms, glossary_tables, load_glossary
from matcher.lexicon import Lexicon, hash_tokens, hash_words
from matcher.parallel import Parallelism, can_fork, in_two_processes, share_chunks
from matcher.vocabulary import Vocabulary
from matcher.weighting import reference_counts, reference_document_frequencies, smoothed_idf
from matcher.written import Noted, WrittenTokens, written_words
from storage.config import Settings

logger = logging.getLogger(__name__)
_SCORE_CHUNK = 128  # queries scored at once: 128 x 50,000 calls x 4 B = 26 MB dense
_ANALYSE_CHUNK = 500  # calls hashed at once: about 3 MB of text, 60 MB of arrays
_VECTOR_CHUNK = 2500  # calls vectorised at once, on the parallelism's threads

# A document after analysis: its language, its terms per field, and all its folded tokens.
_Analysed = tuple[str, dict[str, list[str]], list[str]]


@dataclass(frozen=True)
class ModelParams:
    """Tunable parameters of :class:`TextModel`, with the defaults measured best."""

    title_weight: float = 2.0
    summary_weight: float = 1.5
    description_weight: float = 1.0
    keywords_weight: float = 1.5
    bigrams: bool = True
    # A stem pair found in one call only is that call's most specific evidence (a title's
    # "marine monitoring"); dropping it cost 0.02 MRR on the CORDIS benchmark.
    min_bigram_df: int = 1
    ngram_weight: float = 0.25
    ngram_size: int = 4
    ngram_max_df: float = 0.3
    unseen_min_length: int = 6  # unseen words shorter than this get no n-grams
    glossary_weight: float = 1.0
    dictionary_weight: float = 1.0
    dictionary_alternatives: int = 3
    cognate_weight: float = 0.5
    # A query keeps its 100 terms of highest tf-idf: measured on CORDIS dev, 100 costs 0.0014
    # MRR against all terms (150: none), and long profiles score faster. 0: keep every term.
    max_query_terms: int = 100
    query_idf_power: float = 1.0
    reference_weight: float = 1.0  # IDF prior from the reference corpus; 0: the calls alone


def _weigh_unit_rows(matrix: sp.csr_matrix, weights: np.ndarray, scale: float) -> None:
    """In place: ``data *= weights[column]``, then every row scaled to length ``scale``.

    O(nnz) on the ``data`` array: no per-row Python and no second matrix.
    """
    data = matrix.data
    data *= weights[matrix.indices]
    lengths = np.diff(matrix.indptr)
    sums = np.zeros(len(lengths), dtype=np.float64)
    filled = lengths > 0
    if filled.any():
        # Segments start at non-empty rows only: an empty row would repeat its neighbour.
        sums[filled] = np.add.reduceat(
            np.square(data, dtype=np.float64), matrix.indptr[:-1][filled]
        )
    norms = np.sqrt(sums)
    norms[norms == 0.0] = 1.0
    data *= np.repeat(scale / norms, lengths).astype(data.dtype)


def _side_by_side(left: sp.csr_matrix, right: sp.csr_matrix) -> sp.csr_matrix:
    """``hstack([left, right])`` as float32 CSR, placed by index arithmetic (no COO pass)."""
    n_left, n_right = np.diff(left.indptr), np.diff(right.indptr)
    indptr = left.indptr.astype(np.int64) + right.indptr
    data = np.empty(int(indptr[-1]), dtype=np.float32)
    indices = np.empty(int(indptr[-1]), dtype=np.int32)
    # A left entry moves by the right entries of earlier rows, a right one by the left
    # entries up to and including its own row.
    at_left = np.arange(left.nnz, dtype=np.int64) + np.repeat(right.indptr[:-1], n_left)
    at_right = np.arange(right.nnz, dtype=np.int64) + np.repeat(left.indptr[1:], n_right)
    data[at_left], indices[at_left] = left.data, left.indices
    data[at_right], indices[at_right] = right.data, right.indices + left.shape[1]
    return sp.csr_matrix(
        (data, indices, indptr), shape=(left.shape[0], left.shape[1] + right.shape[1])
    )


@functools.cache
def _marker_hashes() -> tuple[np.ndarray, np.ndarray]:
    """Token hashes of the German and English function words used to guess a language."""
    german = [*sorted(LANGUAGE_MARKERS["de"]), "für"]  # the hash is of the unfolded bytes
    return hash_words(german), hash_words(sorted(LANGUAGE_MARKERS["en"]))


def _compound_parts(term: str, dictionary: FreeDict, min_part: int = 4) -> list[str]:
    """The longest head and the longest tail of a German compound that are dictionary keys."""
    parts: list[str] = []
    for cut in range(len(term) - min_part, min_part - 1, -1):
        if term[:cut] in dictionary:
            parts.append(term[:cut])
            break
    for cut in range(min_part, len(term) - min_part + 1):
        if term[cut:] in dictionary:
            parts.append(term[cut:])
            break
    return parts


def _char_ngrams(term: str, n: int) -> list[str]:
    """Character n-grams of a term with boundary marks ("<kli", "klim", …, "tz>")."""
    padded = f"<{term}>"
    return [padded[i : i + n] for i in range(len(padded) - n + 1)]


def _with_bigrams(terms: list[str]) -> list[str]:
    return terms + [f"{a} {b}" for a, b in pairwise(terms)]


@dataclass
class _Part:
    """Rows ``start:stop`` of the calls, and per column of the vectors how many use it."""

    start: int
    stop: int
    df: np.ndarray


@dataclass(frozen=True)
class _RowSlice:
    """Rows ``start:stop`` of a CSR matrix, copied out only when asked for."""

    matrix: sp.csr_matrix
    start: int
    stop: int

    def rows(self) -> sp.csr_matrix:
        return self.matrix[self.start : self.stop]


# Parsed dictionary indexes by (path, index mtime, analyzer min_length): reading and stemming
# half a million headwords takes about 1 s, so a long-running process (scheduler, web app)
# does it once, not at every re-match.
_DICTIONARIES: dict[tuple[str, int, int], FreeDict] = {}


class TextModel:
    """Fit on the call corpus, then vectorise calls and (expanded) queries into one space."""

    def __init__(
        self,
        *,
        glossary: bool = True,
        dictionary_path: str | None = None,
        parallelism: Parallelism | None = None,
        **params: Any,
    ) -> None:
        known = {f.name for f in fields(ModelParams)}
        unknown = set(params) - known
        if unknown:
            raise TypeError(f"unknown TextModel parameter(s): {', '.join(sorted(unknown))}")
        self.params = ModelParams(**params)
        self.parallelism = parallelism or Parallelism()
        self.analyzer = Analyzer()
        self.use_glossary = glossary
        self.dictionary_path = dictionary_path
        self._dictionary: FreeDict | bool | None = None
        self._preparing: BaseProcess | None = None  # see prepare_dictionary
        # Where the parsed dictionary index may be kept between processes (the matcher cache
        # folder, set by matcher.cache); None: parse the index in every process.
        self.index_folder: Path | None = None
        self._dictionary_cache: dict[str, list[Terms]] = {}
        self._tables: dict[str, PhraseTable] = {}
        # Stems get integer ids once; folded tokens map straight to ids, per language.
        self._stem_ids: dict[str, int] = {}
        self._stems: list[str] = []
        self._token_cache: dict[str, dict[str, int]] = {}
        self.vocabulary = Vocabulary(self._stem_ids, self._stems, 0)
        self.idf = np.zeros(0)
        self._ngram_matrix = sp.csr_matrix((0, 0))
        self._ngram_idf = np.zeros(0)
        self._column_df = np.zeros(0, dtype=np.int64)
        self._gram_index: dict[str, int] = {}
        self._unseen_cache: dict[str, list[int]] = {}
        self._fitted = False
        # Folded words as the analysed calls write them (CorpusAnalysis.written), for names.
        self._written: dict[str, str] = {}
        # The queries last transformed, with what their expansion added (for explanations).
        self.query_bridges: QueryBridges | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **params: Any) -> TextModel:
        """The production model: glossary on, dictionary from ``Settings.freedict_path``."""
        return cls(glossary=True, dictionary_path=settings.freedict_path or None, **params)

    # -- analysis -------------------------------------------------------------------------
    def _field_weights(self) -> dict[str, float]:
        p = self.params
        return {
            "title": p.title_weight,
            "summary": p.summary_weight,
            "description": p.description_weight,
            "keywords": p.keywords_weight,
        }

    def _token_ids(self, tokens: list[str], language: str, *, stops: bool = False) -> list[int]:
        """Stem ids of folded tokens (stop words dropped, or -1 with ``stops``); each
        distinct token stemmed once."""
        cache = self._token_cache.get(language)
        if cache is None:
            cache = self._token_cache[language] = {}
        get = cache.get
        ids = [get(t, -2) for t in tokens]
        if -2 in ids:
            for i, token in enumerate(tokens):
                if ids[i] != -2:
                    continue
                value = get(token, -2)
                if value == -2:
                    stem = self.analyzer.stem(token, language)
                    if stem is None:
                        value = -1
                    else:
                        value = self._stem_ids.get(stem, -1)
                        if value == -1:
                            value = self._stem_ids[stem] = len(self._stems)
                            self._stems.append(stem)
                    cache[token] = value
                ids[i] = value
        return ids if stops else [i for i in ids if i >= 0]

    def _analyse(self, docs: Sequence[Document], *, keep: bool = False) -> Batch:
        """Tokenise, guess the language where not given, and map every field to stem ids."""
        batch = Batch([], {n: [] for n in FIELDS}, {n: [] for n in FIELDS})
        if keep:
            batch.docs, batch.tokens, batch.words = [], [], []
        for doc in docs:
            tokens = {name: tokenize(getattr(doc, name) or "") for name in FIELDS}
            language = self.analyzer.language_of(
                tokens["title"] + tokens["summary"] + tokens["description"][:300], doc.language
            )
            batch.languages.append(language)
            per_doc = {}
            every: list[list[int]] = []
            for name in FIELDS:
                every.append(self._token_ids(tokens[name], language, stops=True))
                ids = [i for i in every[-1] if i >= 0]
                batch.ids[name].extend(ids)
                batch.lengths[name].append(len(ids))
                per_doc[name] = ids
            if keep:
                batch.docs.append(per_doc)  # type: ignore[union-attr]
                batch.tokens.append([t for n in FIELDS for t in tokens[n]])  # type: ignore[union-attr]
                batch.words.append(([tokens[n] for n in FIELDS], every))  # type: ignore[union-attr]
        return batch

    def _analyse_chunk(
        self, docs: Sequence[Document], lexicon: Lexicon, hashes: list[bytes] | None = None
    ) -> Batch:
        """:meth:`_analyse` for one chunk of calls, vectorised (:mod:`matcher.lexicon`).

        The stem ids are numbered in ``lexicon``'s table; only they (int32) are kept, so
        memory grows with the corpus' tokens, not with its strings. ``hashes``: gets each
        document's :func:`content_hash`, in order.
        """
        chunk = self._token_chunk(docs, lexicon, hashes)
        ids, variants, starts, lengths = kernels.split_fields(
            chunk.stem_ids, chunk.variants, chunk.tokens.segments, len(chunk.languages), len(FIELDS)
        )
        batch = Batch(chunk.languages, {}, {}, variants={}, written=chunk.tokens.written)
        for f, name in enumerate(FIELDS):
            batch.ids[name] = ids[starts[f] : starts[f + 1]]
            batch.variants[name] = variants[starts[f] : starts[f + 1]]  # type: ignore[index]
            batch.lengths[name] = lengths[f]
        return batch

    def _token_chunk(
        self, chunk: Sequence[Document], lexicon: Lexicon, hashes: list[bytes] | None = None
    ) -> ChunkTokens:
        """Every token of the documents ``chunk`` with its document, field and stem id.

        The arrays are views of ``lexicon``'s workspace, valid until it reads the next
        chunk. ``hashes``: gets each document's :func:`content_hash`, in order. The tokens
        note how the texts write their words (``WrittenTokens``).
        """
        names = ["de", "en", ""]
        n_fields = len(FIELDS)
        n = len(chunk)
        if hashes is not None:
            hashes.extend(content_hash(doc) for doc in chunk)
        texts = [getattr(doc, name) or "" for doc in chunk for name in FIELDS]
        tokens = WrittenTokens.of(hash_tokens(texts, lexicon.workspace))
        declared = [self.analyzer.language_of([], doc.language) for doc in chunk]
        if any(not lang for lang in declared):
            # The guess of Analyzer.language_of: title, summary and 300 description tokens.
            docs_of = tokens.segments // n_fields
            field_of = tokens.segments % n_fields
            markers = _marker_hashes()
            first = np.searchsorted(tokens.segments, np.arange(n * n_fields))
            position = np.arange(len(docs_of)) - first[tokens.segments]
            looked = (field_of < 2) | ((field_of == 2) & (position < 300))
            de = np.bincount(docs_of[looked & np.isin(tokens.hashes, markers[0])], minlength=n)
            en = np.bincount(docs_of[looked & np.isin(tokens.hashes, markers[1])], minlength=n)
            declared = [
                lang or ("" if d == e else "de" if d > e else "en")
                for lang, d, e in zip(declared, de.tolist(), en.tolist(), strict=True)
            ]
        lang_index = np.array([names.index(lang) for lang in declared], dtype=np.int64)
        tokens.languages = declared
        stem_ids, variants = lexicon.ids_and_variants(
            tokens, np.repeat(lang_index, n_fields), names
        )
        return ChunkTokens(tokens, declared, stem_ids, variants)

    def _pairs_of(self, batches: list[Batch]) -> np.ndarray:
        """The stem pairs of ``batches`` that become columns (:meth:`Counting.fit_bigrams`)."""
        return self._counting().fit_bigrams(batches, self.params.min_bigram_df)

    def _counting(self) -> Counting:
        """Counting over the vocabulary as it is now (a fit replaces it)."""
        return Counting(
            self.vocabulary, self._weight_array(), self.params.bigrams, self.parallelism.threads
        )

    def _weight_array(self) -> np.ndarray:
        weights = self._field_weights()
        return np.array([weights[name] for name in FIELDS], dtype=np.float32)

    def _query_terms(self, batch: Batch) -> list[_Analysed]:
        """Per query: language, unigram terms per field (as strings), and all tokens."""
        stems = self._stems
        out: list[_Analysed] = []
        for language, doc, tokens in zip(
            batch.languages, batch.docs or [], batch.tokens or [], strict=True
        ):
            out.append((language, {n: [stems[i] for i in doc[n]] for n in FIELDS}, tokens))
        return out

    # -- fitting --------------------------------------------------------------------------
    def analyse_calls(self, calls: Sequence[Document], *, hashed: bool = False) -> CorpusAnalysis:
        """Analyse call texts for fitting (vectorised; on two processes if large and the
        model's ``parallelism`` allows it).

        The analysis depends only on the texts and the analyzer, never on other calls, so
        parts analysed apart (by two processes, or in an earlier re-match) merge exactly.
        Two processes share the chunks of calls as they go
        (:func:`matcher.parallel.share_chunks`), each numbering stems in its own table; the
        worker's chunks are renumbered into this process's table. ``hashed``: also hash each
        text as it is read (``CorpusAnalysis.hashes``), so a cache does not read the corpus a
        second time.
        """
        n_chunks = -(-len(calls) // _ANALYSE_CHUNK)
        stems: list[str] = []
        stem_ids: dict[str, int] = {}
        lexicons: list[Lexicon] = []  # one per process, made by the first chunk it takes

        def work(i: int) -> tuple[Batch, list[bytes] | None]:
            if not lexicons:
                lexicons.append(Lexicon(self.analyzer, stem_ids, stems))
            docs = calls[i * _ANALYSE_CHUNK : (i + 1) * _ANALYSE_CHUNK]
            hashes: list[bytes] | None = [] if hashed else None
            return self._analyse_chunk(docs, lexicons[0], hashes), hashes

        def finish() -> tuple[list[str], dict[str, dict[str, int]], list[list[str]]]:
            # The analyzer's record of surface words (private to it) travels with the
            # analysis, so explanations stay readable when another process analysed.
            surface = self.analyzer._surface
            seen = lexicons[0].words if lexicons else {}
            return (
                stems,
                {stem: dict(surface[stem]) for stem in stems if stem in surface},
                [list(seen.get(i, ())) for i in range(len(stems))],
            )

        shared = None
        if self.parallelism.forks_for(len(calls)):
            shared = share_chunks(work, finish, n_chunks)
        if shared is None:
            mine, theirs, their_table = {i: work(i) for i in range(n_chunks)}, {}, None
        else:
            mine, theirs, their_table = shared
        _, forms, words = finish()
        if their_table is not None:
            their_stems, their_forms, their_words = their_table
            remap = np.array(
                [stem_ids.setdefault(stem, len(stem_ids)) for stem in their_stems],
                dtype=np.int32,
            )
            stems.extend(list(stem_ids)[len(stems) :])
            variant_of = merge_words(words, remap, their_words)
            for batch, _ in theirs.values():
                batch.variants = {
                    n: variant_of(ids, batch.variants[n])  # type: ignore[index]
                    for n, ids in batch.ids.items()
                }
                batch.ids = {n: remap[ids] if len(ids) else ids for n, ids in batch.ids.items()}
            for stem, seen in their_forms.items():
                merged = forms.setdefault(stem, {})
                for word, count in seen.items():
                    merged[word] = merged.get(word, 0) + count
        done = [mine[i] if i in mine else theirs[i] for i in range(n_chunks)]
        analysis = CorpusAnalysis.from_batches(stems, [batch for batch, _ in done])
        analysis.forms = forms
        analysis.words = words
        for word, form in (analysis.written or {}).items():
            self._written.setdefault(word, form)
        if hashed:
            analysis.hashes = np.array(
                [digest for _, hashes in done for digest in hashes or ()], dtype="S16"
            )
        return analysis

    def fit(self, calls: Sequence[Document]) -> TextModel:
        """Learn the vocabulary, IDF and n-gram statistics from the call corpus."""
        self._fit_from_counts(self.count_calls(self.analyse_calls(calls)))
        return self

    def fit_transform(self, calls: Sequence[Document], *, by_term: bool = False) -> sp.csr_matrix:
        """``fit(calls)`` then ``transform(calls)``, analysing each call once.

        ``by_term``: the vectors as terms × calls (what ranking reads), see
        :meth:`fit_transform_counts`.
        """
        return self.fit_transform_analysed(self.analyse_calls(calls), by_term=by_term)

    def fit_transform_analysed(
        self, analysis: CorpusAnalysis, *, by_term: bool = False
    ) -> sp.csr_matrix:
        """:meth:`fit_transform` from calls analysed beforehand (:meth:`analyse_calls`)."""
        return self.fit_transform_counts(self.count_calls(analysis), by_term=by_term)

    def count_calls(self, analysis: CorpusAnalysis) -> CallCounts:
        """The fitted call side of analysed calls: vocabulary and field-weighted tf per call.

        Everything corpus-wide that depends on it (IDF, n-grams, vectors) is derived by
        :meth:`fit_transform_counts`, so a cache can keep this and skip it next time.
        """
        analysis = used_stems_only(analysis)
        forms = analysis.forms
        self._set_stems(list(analysis.stems))
        german = np.array([lang == "de" for lang in analysis.languages], dtype=bool)
        batches = list(analysis.batches(_VECTOR_CHUNK))
        del analysis
        if self.params.bigrams:
            self.vocabulary.bigram_codes = self._pairs_of(batches)
        counts = self._counting().stacked(batches)
        return CallCounts(
            list(self._stems), self.vocabulary.bigram_codes, counts, german, dict(forms)
        )

    def update_counts(
        self, base: CallCounts, sources: np.ndarray, analysis: CorpusAnalysis
    ) -> CallCounts:
        """The counts of a corpus made of rows of ``base`` and of newly analysed calls.

        Row ``r`` is base row ``sources[r]`` or, where it is negative, call ``-1 - sources[r]``
        of ``analysis``. The new calls' stems and bigrams become columns (the old ones keep
        their order, so every row's indices stay sorted), each row is written once into the
        result, and columns no row uses any longer go, so the result equals the counts of a
        fit on these calls alone, up to the numbering of new columns.
        """
        if self.params.bigrams and self.params.min_bigram_df > 1:
            # A pair below the threshold is not a column, so it could never be counted later.
            raise ValueError("update_counts needs min_bigram_df <= 1")
        n_old = len(base.stems)
        stems = list(base.stems)
        index = {stem: i for i, stem in enumerate(stems)}
        remap = np.array(
            [index.setdefault(stem, len(index)) for stem in analysis.stems], dtype=np.int32
        )
        stems.extend(list(index)[n_old:])
        n_new = len(stems)
        recoded = (base.bigram_codes // max(1, n_old)) * n_new + base.bigram_codes % max(1, n_old)
        ids = {n: remap[analysis.ids[n]] if len(remap) else analysis.ids[n] for n in FIELDS}
        moved = CorpusAnalysis(stems, analysis.languages, ids, analysis.lengths)
        self._set_stems(stems)
        batches = list(moved.batches(_ANALYSE_CHUNK))
        codes = recoded
        if self.params.bigrams:
            codes = np.union1d(recoded, self._pairs_of(batches)).astype(np.int64)
        self.vocabulary.bigram_codes = codes
        width = n_new + len(codes)
        column = np.concatenate(
            [np.arange(n_old, dtype=np.int64), n_new + np.searchsorted(codes, recoded)]
        ).astype(np.int32)
        fresh = self._counting().stacked(batches)
        sources = np.asarray(sources, dtype=np.int64)
        from_base = sources >= 0

        def by_source(base_values: np.ndarray, fresh_values: np.ndarray) -> np.ndarray:
            """Per row: the value of its base row or of its new call. Index -1 picks a zero
            appended to each side, so either side may be empty."""
            base_values = np.append(base_values, 0).astype(base_values.dtype)
            fresh_values = np.append(fresh_values, 0).astype(fresh_values.dtype)
            return np.where(
                from_base,
                base_values[np.where(from_base, sources, -1)],
                fresh_values[np.where(from_base, -1, -1 - sources)],
            )

        lengths = by_source(np.diff(base.counts.indptr), np.diff(fresh.indptr))
        indptr = np.zeros(len(sources) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        indices = np.empty(int(indptr[-1]), dtype=np.int32)
        data = np.empty(int(indptr[-1]), dtype=np.float32)
        kernels.gather_rows(
            sources,
            base.counts.indptr,
            base.counts.indices,
            base.counts.data,
            column,
            fresh.indptr,
            fresh.indices,
            fresh.data,
            indptr,
            indices,
            data,
        )
        german = by_source(
            np.asarray(base.german, dtype=bool),
            np.array([lang == "de" for lang in analysis.languages], dtype=bool),
        )
        forms = dict(base.forms)
        forms.update(analysis.forms)
        counts = sp.csr_matrix((data, indices, indptr), shape=(len(sources), width))
        return CallCounts(stems, codes, counts, german, forms).compact(in_place=True)

    def _set_stems(self, stems: list[str]) -> None:
        self._stems = stems
        self._stem_ids = {stem: i for i, stem in enumerate(stems)}
        self._token_cache = {}
        self._unseen_cache = {}
        self.vocabulary = Vocabulary(self._stem_ids, self._stems, len(stems))

    def fit_transform_counts(self, fitted: CallCounts, *, by_term: bool = False) -> sp.csr_matrix:
        """Fit from a fitted call side (IDF, n-gram block) and return the call vectors.

        Every step is a sparse operation linear in the counts' non-zeros, so a re-match that
        kept the counts costs no analysis and no counting. The vectors are calls × terms, or
        with ``by_term`` terms × calls (each term's row sorted by call), computed and written
        by :func:`matcher.kernels.vectors_by_term` on two threads, each filling its part of
        the calls into arrays sized from the column counts the fit already knows, so no
        calls × terms copy of the vectors is ever made.
        """
        parts = self._fit_from_counts(fitted)
        counts = fitted.counts
        n_calls, width = counts.shape[0], self._vector_width()
        if not by_term:
            step = _VECTOR_CHUNK
            chunks = [_RowSlice(counts, i, min(i + step, n_calls)) for i in range(0, n_calls, step)]
            if not chunks:
                return sp.csr_matrix((0, width), dtype=np.float32)
            # Rows are sliced inside each task, so no second copy of all the counts exists.
            with ThreadPoolExecutor(max_workers=self.parallelism.threads) as pool:
                vectors = pool.map(lambda chunk: self._vectors(chunk.rows()), chunks)
                return sp.vstack(list(vectors), format="csr")
        indptr = np.zeros(width + 1, dtype=np.int64)
        np.cumsum(self._column_df, out=indptr[1:])
        indices = np.empty(int(indptr[-1]), dtype=np.int32)
        data = np.empty(int(indptr[-1]), dtype=np.float32)
        # Each part of the calls writes its rows from where the parts before it end.
        starts = [indptr[:-1].copy()]
        for part in parts:
            starts.append(starts[-1] + part.df)
        cursors = [start.copy() for start in starts[:-1]]
        beta = self.params.ngram_weight
        with_grams = beta > 0.0 and self._ngram_matrix.shape[1] > 0
        grams = self._ngram_matrix if with_grams else sp.csr_matrix((len(self.vocabulary), 0))
        idf = np.asarray(self.idf, dtype=np.float64)
        g_idf = np.asarray(self._ngram_idf if with_grams else np.zeros(0), dtype=np.float64)

        def write(part: _Part, cursor: np.ndarray) -> None:
            kernels.vectors_by_term(
                counts.indptr,
                counts.indices,
                counts.data,
                part.start,
                part.stop,
                idf,
                math.sqrt(1.0 - beta) if with_grams else 1.0,
                grams.indptr,
                grams.indices,
                g_idf,
                math.sqrt(beta),
                len(self.vocabulary),
                self.vocabulary.n_stems,
                cursor,
                indices,
                data,
            )

        with ThreadPoolExecutor(max_workers=self.parallelism.threads) as pool:
            list(pool.map(write, parts, cursors))
        # Each part must have filled its slots exactly: it ends where the next one starts.
        if not all(np.array_equal(c, e) for c, e in zip(cursors, starts[1:], strict=True)):
            raise RuntimeError("call vectors do not match the fitted column counts")
        return sp.csr_matrix((data, indices, indptr), shape=(width, n_calls))

    def _vector_width(self) -> int:
        grams = self._ngram_matrix.shape[1] if self.params.ngram_weight > 0.0 else 0
        return len(self.vocabulary) + grams

    def _fit_from_counts(self, fitted: CallCounts) -> list[_Part]:
        """Vocabulary, IDF and n-gram block from ``fitted``; its calls in parts (one per
        thread), each with the number of its calls using each column of the vectors."""
        surface = self.analyzer._surface
        for stem, seen in fitted.forms.items():
            known = surface.setdefault(stem, {})
            for word, count in seen.items():
                known[word] = max(known.get(word, 0), count)
        self._set_stems(list(fitted.stems))
        self.vocabulary.bigram_codes = np.asarray(fitted.bigram_codes, dtype=np.int64)
        counts = fitted.counts
        n_docs = counts.shape[0]
        n_parts = min(self.parallelism.threads, n_docs)
        bounds = [n_docs * k // n_parts for k in range(n_parts + 1)] if n_docs else [0]

        def part(span: tuple[int, int]) -> _Part:
            start, stop = span
            used = counts.indices[counts.indptr[start] : counts.indptr[stop]]
            return _Part(start, stop, kernels.column_counts(used, len(self.vocabulary)))

        with ThreadPoolExecutor(max_workers=self.parallelism.threads) as pool:
            parts = list(pool.map(part, pairwise(bounds)))
        df = sum((part.df for part in parts), np.zeros(len(self.vocabulary), dtype=np.int64))
        self.idf = self._idf(df, n_docs, n_docs - int(fitted.german.sum()))
        # Calls per column of the vectors (the n-gram block's are appended by _fit_ngrams).
        self._column_df = df
        self._fit_ngrams(counts, parts)
        self._fitted = True
        return parts

    def _idf(self, df: np.ndarray, n_docs: int, not_german: int) -> np.ndarray:
        """Smoothed IDF of every column from the calls' df and the reference corpus' df.

        The (English) reference counts in proportion to the calls that are not German; see
        :mod:`matcher.weighting` for why it is there at all.
        """
        weight = self.params.reference_weight * not_german / max(1, n_docs)
        if weight <= 0.0:
            return smoothed_idf(df, n_docs)
        reference = reference_counts(self.index_folder)
        vocab = self.vocabulary
        extra = reference_document_frequencies(
            reference, self._stem_ids, vocab.n_stems, vocab.bigram_codes
        )
        return smoothed_idf(df + weight * extra, n_docs + weight * reference.n_docs)

    def _fit_ngrams(self, counts: sp.csr_matrix, parts: list[_Part]) -> None:
        """Build the term→n-gram matrix and the n-gram IDF over the call corpus.

        Each part's column counts (``df``) get the n-gram block's appended.
        """
        n = self.params.ngram_size
        n_cols = len(self.vocabulary)
        if self.params.ngram_weight <= 0.0:
            self._ngram_matrix = sp.csr_matrix((n_cols, 0))
            self._ngram_idf = np.zeros(0)
            self._gram_index = {}
            return
        grams: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        for row in range(self.vocabulary.n_stems):
            for gram in _char_ngrams(self._stems[row], n):
                col = grams.get(gram)
                if col is None:
                    col = grams[gram] = len(grams)
                rows.append(row)
                cols.append(col)
        matrix = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_cols, len(grams))
        )
        matrix.data[:] = 1.0  # a gram twice in one stem still counts once
        with ThreadPoolExecutor(max_workers=self.parallelism.threads) as pool:
            part_df = list(
                pool.map(
                    lambda part: kernels.gram_frequencies(
                        counts.indptr,
                        counts.indices,
                        part.start,
                        part.stop,
                        matrix.indptr,
                        matrix.indices,
                        len(grams),
                        self.vocabulary.n_stems,
                    ),
                    parts,
                )
            )
        df = sum(part_df, np.zeros(len(grams), dtype=np.int64))
        n_docs = counts.shape[0]
        # Grams in a large share of calls ("tion", "<pro") say nothing; dropping them keeps the
        # block sparse, which is what keeps scoring 50,000 calls fast.
        keep = np.flatnonzero((df > 0) & (df <= max(1.0, self.params.ngram_max_df * n_docs)))
        self._ngram_matrix = sp.csr_matrix(matrix[:, keep])
        self._ngram_idf = np.log((1.0 + n_docs) / (1.0 + df[keep])) + 1.0
        self._column_df = np.concatenate([self._column_df, df[keep]])
        for part, found in zip(parts, part_df, strict=True):
            part.df = np.concatenate([part.df, found[keep]])
        names = [""] * len(grams)
        for gram, col in grams.items():
            names[col] = gram
        self._gram_index = {names[old]: new for new, old in enumerate(keep)}

    def _unseen_word_grams(self, analysed: list[_Analysed]) -> sp.csr_matrix | None:
        """N-gram counts of German words the calls never used (mostly new compounds).

        Such words have no column in the word block, but their n-grams can still meet the
        calls' words: "Hitzeanpassungsstrategien" shares grams with "Anpassung". English
        texts are left out: their unseen words are names and codes, whose grams are noise.
        """
        if not self._gram_index:
            return None
        n = self.params.ngram_size
        weights = self._field_weights()
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        cache = self._unseen_cache
        min_length = self.params.unseen_min_length
        for row, (language, doc, _) in enumerate(analysed):
            if language == "en":
                continue
            for name in FIELDS:
                unseen = Counter(
                    t for t in doc[name] if len(t) >= min_length and t not in self.vocabulary
                )
                for term, count in unseen.items():
                    gram_cols = cache.get(term)
                    if gram_cols is None:
                        found = {self._gram_index.get(g) for g in _char_ngrams(term, n)}
                        gram_cols = cache[term] = [c for c in found if c is not None]
                    weight = weights[name] * (1.0 + math.log(count))
                    rows.extend([row] * len(gram_cols))
                    cols.extend(gram_cols)
                    vals.extend([weight] * len(gram_cols))
        if not rows:
            return None
        return sp.csr_matrix(
            (np.asarray(vals), (rows, cols)), shape=(len(analysed), len(self._gram_index))
        )

    # -- vectors --------------------------------------------------------------------------
    def _require_fit(self) -> None:
        if not self._fitted:
            raise RuntimeError("TextModel.fit() must be called before transform()")

    def _vectors(
        self,
        counts: sp.csr_matrix,
        idf_power: float = 1.0,
        extra_grams: sp.csr_matrix | None = None,
    ) -> sp.csr_matrix:
        """Unit rows from field-weighted tf: the two blocks, each normalised and weighted."""
        idf = self.idf if idf_power == 1.0 else self.idf**idf_power
        counts = sp.csr_matrix(counts)
        beta = self.params.ngram_weight
        with_grams = beta > 0.0 and self._ngram_matrix.shape[1] > 0
        # The word block shares the counts' indices; only its data is a copy.
        words = sp.csr_matrix(
            (counts.data.astype(np.float32), counts.indices, counts.indptr), shape=counts.shape
        )
        _weigh_unit_rows(words, idf, math.sqrt(1.0 - beta) if with_grams else 1.0)
        if not with_grams:
            return words
        grams = counts @ self._ngram_matrix
        if extra_grams is not None:
            grams = grams + extra_grams
        grams = sp.csr_matrix(grams, dtype=np.float32)
        _weigh_unit_rows(grams, self._ngram_idf, math.sqrt(beta))
        return _side_by_side(words, grams)

    def transform(self, calls: Sequence[Document]) -> sp.csr_matrix:
        """Call vectors: one L2-normalised row per call."""
        self._require_fit()
        batch = self._analyse(calls, keep=True)
        counts = self._counting().rows(batch)
        extra = self._unseen_word_grams(self._query_terms(batch)) if self._gram_index else None
        return self._vectors(counts, extra_grams=extra)

    def transform_queries(self, queries: Sequence[Document]) -> sp.csr_matrix:
        """Profile/query vectors, expanded across languages; one L2-normalised row each.

        Queries are analysed in this process only: a query's new words get stem ids in this
        model's table, which the explanations read afterwards (``query_bridges``).
        """
        self._require_fit()
        batch = self._analyse(queries, keep=True)
        analysed = self._query_terms(batch)
        counts = self._counting().rows(batch)
        bridges: list[dict[int, Bridge]] = [{} for _ in analysed]
        expansion = self._expansions(analysed, bridges)
        for row, bridged in enumerate(bridges):
            # A column the query has in its own words is not a bridge's.
            for col in counts.indices[counts.indptr[row] : counts.indptr[row + 1]].tolist():
                bridged.pop(col, None)
        self.query_bridges = QueryBridges(queries, batch.words or [], bridges)
        counts = sp.csr_matrix(counts + expansion)
        if self.params.max_query_terms > 0:
            counts = self._keep_top_terms(counts, self.params.max_query_terms)
        unseen = self._unseen_word_grams(analysed)
        return self._vectors(counts, self.params.query_idf_power, unseen)

    def _keep_top_terms(self, counts: sp.csr_matrix, k: int) -> sp.csr_matrix:
        """Keep each query's ``k`` terms of highest tf-idf (long descriptions ramble)."""
        weighted = sp.csr_matrix(counts.multiply(self.idf[np.newaxis, :]))
        rows, cols, vals = [], [], []
        for i in range(counts.shape[0]):
            start, end = weighted.indptr[i], weighted.indptr[i + 1]
            if end - start <= k:
                keep = np.arange(start, end)
            else:
                keep = start + np.argpartition(-weighted.data[start:end], k)[:k]
            rows.append(np.full(len(keep), i))
            cols.append(counts.indices[keep])
            vals.append(counts.data[keep])
        if not rows:
            return counts
        return sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=counts.shape,
        )

    # -- cross-language expansion ---------------------------------------------------------
    def _phrase_tables(self) -> dict[str, PhraseTable]:
        if not self._tables and self.use_glossary:
            self._tables = glossary_tables(load_glossary(), self.analyzer)
        return self._tables

    def _dictionary_key(self) -> tuple[str, int, int]:
        index = Path(f"{self.dictionary_path}.index")
        stamp = index.stat().st_mtime_ns if index.exists() else 0
        return (str(self.dictionary_path), stamp, self.analyzer.min_length)

    def prepare_dictionary(self) -> None:
        """Start parsing the dictionary index in a forked process, so that the parse (about
        1 s) overlaps the fit instead of following it.

        Only where it will be needed and is not at hand: a dictionary is configured, this
        process has not read it, and no parsed copy is kept in ``index_folder``. The process
        writes that copy; :meth:`_load_dictionary` waits for it, then reads the copy (or
        parses the index itself if the process failed).
        """
        if (
            self._dictionary is not None
            or self._preparing is not None
            or not self.dictionary_path
            or self.index_folder is None
            or (Path(self.index_folder) / INDEX_FILE).exists()
            or not Path(f"{self.dictionary_path}.index").exists()
            or self.parallelism.processes < 2
            or not can_fork()
            or self._dictionary_key() in _DICTIONARIES
        ):
            return
        Path(self.index_folder).mkdir(parents=True, exist_ok=True)
        process = multiprocessing.get_context("fork").Process(
            target=self._load_dictionary, name="foerderdesk-dictionary", daemon=True
        )
        process.start()
        self._preparing = process

    def _load_dictionary(self) -> FreeDict | None:
        """The freedict dictionary, read once; None when not configured or not installed."""
        if self._preparing is not None:
            self._preparing.join()
            if self._preparing.exitcode != 0:
                logger.warning("parsing the dictionary beforehand failed; parsing it now")
            self._preparing = None
        if self._dictionary is None and self.dictionary_path:
            try:
                key = self._dictionary_key()
                found = _DICTIONARIES.get(key)
                if found is None:
                    found = FreeDict(
                        self.dictionary_path,
                        lambda words: self.analyzer.stem_words(words, "de"),
                        cache_folder=self.index_folder,
                        key_name=f"german stems, min_length {self.analyzer.min_length}",
                    )
                    _DICTIONARIES.clear()  # one dictionary in memory, the current one
                    _DICTIONARIES[key] = found
                self._dictionary = found
            except DictionaryError as exc:
                logger.warning("matching without the dictionary: %s", exc)
                self._dictionary = False
        return self._dictionary or None

    def _dictionary_matches(
        self, dictionary: FreeDict, terms: list[str]
    ) -> list[tuple[Terms, list[Terms]]]:
        """Dictionary renderings of German ``terms``; unknown compounds by head and tail."""
        found: list[tuple[Terms, list[Terms]]] = []
        for term in terms:
            if term in dictionary:
                keys = [term]
            elif len(term) >= 8:
                keys = _compound_parts(term, dictionary)
            else:
                keys = []
            for key in keys:
                alternatives = self._dictionary_alternatives(dictionary, key)
                if alternatives:
                    found.append(((key,), alternatives))
        return found

    def _dictionary_alternatives(self, dictionary: FreeDict, key: str) -> list[Terms]:
        cached = self._dictionary_cache.get(key)
        if cached is None:
            cached = []
            for phrase in dictionary.translations(key):
                terms = tuple(self.analyzer.terms(tokenize(phrase), "en"))
                if terms and terms not in cached and all(t in self.vocabulary for t in terms):
                    cached.append(terms)
                if len(cached) >= self.params.dictionary_alternatives:
                    break
            self._dictionary_cache[key] = cached
        return cached

    def _expansions(
        self, analysed: list[_Analysed], bridges: list[dict[int, Bridge]] | None = None
    ) -> sp.csr_matrix:
        """Weighted target-language terms for each query (rows): glossary, dictionary, cognates.

        The glossary comes first; the dictionary only sees German words the glossary did not
        cover, so a curated rendering is never diluted by a dictionary's many senses.
        ``bridges``: gets, per query, each column's largest source (see :class:`Bridge`).
        """
        tables = self._phrase_tables()
        needs_dictionary = self.params.dictionary_weight > 0 and any(
            language in ("de", "") for language, _, _ in analysed
        )
        dictionary = self._load_dictionary() if needs_dictionary else None
        p = self.params
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        # Held open, the dictionary inflates each chunk of its data file once for all rows.
        with dictionary.batch() if dictionary is not None else contextlib.nullcontext():
            for row, (language, per_field, tokens) in enumerate(analysed):
                # Unigrams of every field, in order; bigrams are rebuilt from the phrases found.
                terms = [t for name in FIELDS for t in per_field[name]]
                # English text into German calls: a German rendering that the English text already
                # contains is an accidental overlap ("digital", "system"), not a translation.
                own = {col for t in terms if (col := self.vocabulary.get(t)) is not None}
                weights: dict[int, float] = {}
                noted = bridges[row] if bridges is not None else None
                for source in ("de", "en") if language == "" else (language,):
                    covered: set[str] = set()
                    table = tables.get(source)
                    origin = (noted, language, source)
                    if table is not None:
                        covered = self._expand_with(
                            table.find(terms), p.glossary_weight, weights, own, origin
                        )
                    if source != "de":
                        continue
                    if dictionary is not None:
                        rest = [t for t in terms if t not in covered]
                        matches = self._dictionary_matches(dictionary, rest)
                        self._expand_with(matches, p.dictionary_weight, weights, set(), origin)
                    if p.cognate_weight > 0:
                        self._add_cognates(tokens, set(terms), weights, noted)
                for col, weight in weights.items():
                    rows.append(row)
                    cols.append(col)
                    vals.append(weight)
        return sp.csr_matrix(
            (np.asarray(vals, dtype=np.float64), (rows, cols)),
            shape=(len(analysed), len(self.vocabulary)),
        )

    def _add_cognates(
        self,
        tokens: list[str],
        own: set[str],
        weights: dict[int, float],
        bridges: dict[int, Bridge] | None = None,
    ) -> None:
        """German words stemmed the English way, when that stem is a call term.

        "Innovation", "digitale", "Integration" become "innov", "digit", "integr": many words
        of the funding domain are shared Latin and Greek, spelt alike in both languages.
        """
        counts: Counter[str] = Counter()
        first: dict[str, str] = {}  # the first token of each term, for bridges
        stem = self.analyzer.stem
        for token in tokens:
            if len(token) >= 5 and (term := stem(token, "")) is not None and term not in own:
                counts[term] += 1
                first.setdefault(term, token)
        for term, count in counts.items():
            col = self.vocabulary.get(term)
            if col is not None:
                share = self.params.cognate_weight * (1.0 + math.log(count))
                weights[col] = weights.get(col, 0.0) + share
                if bridges is not None:
                    note_bridge(bridges, col, Bridge(share, (first[term],), None, "de"))

    def _expand_with(
        self,
        found: list[tuple[Terms, list[Terms]]],
        strength: float,
        weights: dict[int, float],
        own: set[int],
        origin: tuple[dict[int, Bridge] | None, str, str] = (None, "", ""),
    ) -> set[str]:
        """Add the alternatives of every source phrase in ``found`` to ``weights``.

        A source phrase seen c times weighs ``strength * (1 + log c)``, shared among its
        alternatives in proportion to their IDF: the specific rendering ("town twinning")
        carries more than a common one, and renderings absent from the calls carry nothing.
        Returns the source terms that had a rendering. ``origin``: (bridges to note each
        column's source in, the query's language, the source phrases' language).
        """
        bridges, query_language, source_language = origin
        occurrences: Counter[Terms] = Counter()
        alternatives_of: dict[Terms, list[Terms]] = {}
        for key, alternatives in found:
            occurrences[key] += 1
            alternatives_of[key] = alternatives
        vocab = self.vocabulary
        idf_of = self.idf.item  # a float per column, without a numpy call per alternative
        covered: set[str] = set()
        for key, count in occurrences.items():
            source_weight = strength * (1.0 + math.log(count))
            scored = []
            for alternative in alternatives_of[key]:
                cols = [vocab[t] for t in _with_bigrams(list(alternative)) if t in vocab]
                cols = [c for c in cols if c not in own]
                if cols:
                    scored.append((cols, sum(map(idf_of, cols)) / len(cols)))
            if not scored:
                continue
            covered.update(key)
            total = sum(score for _, score in scored)
            # The heaviest source phrase of a column names it.
            bridge = Bridge(source_weight, key, query_language, source_language)
            for cols, score in scored:
                share = source_weight * score / total
                for col in cols:
                    weights[col] = weights.get(col, 0.0) + share
                    if bridges is not None:
                        note_bridge(bridges, col, bridge)
        return covered

    # -- scoring --------------------------------------------------------------------------
    def similarity(self, queries: sp.csr_matrix, calls: sp.csr_matrix) -> np.ndarray:
        """Scores of every query against every call (n_queries x n_calls), float32.

        Rows are unit length, so this is the weighted sum of the word and n-gram cosines.
        Queries go in chunks on two threads (scipy's sparse product releases the GIL), so
        the sparse intermediate never holds more than a chunk's scores.
        """
        n_queries = queries.shape[0]
        out = np.zeros((n_queries, calls.shape[0]), dtype=np.float32)
        if n_queries == 0 or calls.shape[0] == 0:
            return out
        transposed = sp.csr_matrix(calls.T, dtype=np.float32)
        queries = sp.csr_matrix(queries, dtype=np.float32)

        def score(start: int) -> None:
            stop = min(start + _SCORE_CHUNK, n_queries)
            out[start:stop] = (queries[start:stop] @ transposed).toarray()

        starts = range(0, n_queries, _SCORE_CHUNK)
        if len(starts) == 1:
            score(0)
        else:
            with ThreadPoolExecutor(max_workers=self.parallelism.threads) as pool:
                list(pool.map(score, starts))
        return out

    def surface_words(self, doc: Document) -> dict[str, str]:
        """Per term of ``doc``, the word its text uses most for it (first seen on a tie).

        Explanations show these: the words a person wrote in that call ("cities",
        "twinning"), not the corpus' shortest form of the stem ("city", "twins").
        """
        return self.call_words([doc])[0]

    def call_words(
        self,
        docs: Sequence[Document],
        wanted: Sequence[Collection[str]] | None = None,
    ) -> list[dict[str, str]]:
        """:meth:`surface_words` of many documents, for the ``wanted`` terms of each only.

        Vectorised like the analysis (:mod:`matcher.lexicon`): a string is made only for the
        word chosen per (document, term), so the words of the thousands of calls a re-match
        explains cost about a second, not one tokenisation in Python per call. A large batch
        is split over two processes like the analysis. Words are named as the fitted calls
        write them (``CorpusAnalysis.written``), as the analysis names them, else as these
        documents do.
        """
        halves = in_two_processes(
            self.parallelism,
            lambda begin, stop: self._call_words_here(
                pick_documents(docs, np.arange(begin, stop)),
                None if wanted is None else wanted[begin:stop],
            ),
            len(docs),
        )
        if halves is not None:
            return halves[0] + halves[1]
        return self._call_words_here(docs, wanted)

    def _call_words_here(
        self, docs: Sequence[Document], wanted: Sequence[Collection[str]] | None
    ) -> list[dict[str, str]]:
        """:meth:`call_words` in this process."""
        stem_ids = dict(self._stem_ids)
        lexicon = Lexicon(self.analyzer, stem_ids, list(self._stems))
        out: list[dict[str, str]] = [{} for _ in docs]
        noted: list[dict[str, Noted] | None] = []  # per chunk: how these documents write
        for begin in range(0, len(docs), _ANALYSE_CHUNK):
            chunk = self._token_chunk(docs[begin : begin + _ANALYSE_CHUNK], lexicon)
            noted.append(chunk.tokens.written)
            stems = lexicon.stems  # grown by the chunk's new stems
            width = len(stems) + 1
            keys = chunk.docs_of * width + chunk.stem_ids
            keep = chunk.stem_ids >= 0
            if wanted is not None:
                wanted_keys = [
                    j * width + stem_ids[term]
                    for j, terms in enumerate(wanted[begin : begin + _ANALYSE_CHUNK])
                    for term in terms
                    if term in stem_ids
                ]
                # Tokens of a stem someone wants, then (few) a binary search in the wanted
                # keys: no sort of all the chunk's keys.
                sought = np.unique(np.asarray(wanted_keys, dtype=np.int64))
                of_stem = np.zeros(width, dtype=bool)
                of_stem[sought % width] = True
                keep &= of_stem[chunk.stem_ids]
                candidates = np.flatnonzero(keep)
                if len(candidates):
                    found = np.searchsorted(sought, keys[candidates])
                    found = np.minimum(found, len(sought) - 1)
                    keep[candidates] = sought[found] == keys[candidates]
            at = np.flatnonzero(keep)
            if not len(at):
                continue
            # Occurrences grouped by (document and term, token), in text order within.
            keys, hashes = keys[at], chunk.tokens.hashes[at]
            order = np.lexsort((at, hashes, keys))
            keys, hashes, at = keys[order], hashes[order], at[order]
            starts = np.flatnonzero(
                np.concatenate(([True], (keys[1:] != keys[:-1]) | (hashes[1:] != hashes[:-1])))
            )
            counts = np.diff(np.append(starts, len(keys)))
            group_keys, first_seen = keys[starts], at[starts]
            # Per (document, term): the most used token, the earliest one on a tie.
            best = np.lexsort((first_seen, -counts, group_keys))
            lead = best[np.concatenate(([True], group_keys[best][1:] != group_keys[best][:-1]))]
            for key, position in zip(
                group_keys[lead].tolist(), first_seen[lead].tolist(), strict=True
            ):
                row, stem = divmod(key, width)
                out[begin + row][stems[stem]] = chunk.tokens.folded(position)
        # As the fitted calls write a word where this process's fit read them all (the
        # same choice as the analysis makes), else as these documents do.
        fitted, own = self._written, written_words(noted) or {}
        for words in out:
            for stem, word in words.items():
                words[stem] = fitted.get(word) or own.get(word) or word
        return out

    def top_columns(
        self,
        queries: sp.csr_matrix,
        by_term: sp.csr_matrix,
        query_rows: Sequence[int],
        call_rows: Sequence[int],
        n: int = 5,
    ) -> list[list[tuple[int, float]]]:
        """Per pair (``query_rows[i]``, ``call_rows[i]``): the word-block columns adding most
        to the pair's score, as (column, contribution), largest first (column on a tie).

        ``by_term`` holds the calls' vectors as terms × calls (``fit_transform(...,
        by_term=True)``). See :meth:`top_column_arrays` for the same as two arrays.
        """
        columns, values = self.top_column_arrays(queries, by_term, query_rows, call_rows, n)
        return [
            [(c, v) for c, v in zip(cols, vals, strict=True) if c >= 0]
            for cols, vals in zip(columns.tolist(), values.tolist(), strict=True)
        ]

    def top_column_arrays(
        self,
        queries: sp.csr_matrix,
        by_term: sp.csr_matrix,
        query_rows: Sequence[int] | np.ndarray,
        call_rows: Sequence[int] | np.ndarray,
        n: int = 5,
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`top_columns` as arrays ``(columns, values)`` of shape (pairs, n), padded
        with column -1. The work runs in a compiled kernel, half of the pairs on each of two
        threads.
        """
        n_pairs = len(query_rows)
        if n_pairs != len(call_rows):
            raise ValueError(f"{n_pairs} query rows for {len(call_rows)} call rows")
        columns = np.empty((n_pairs, n), dtype=np.int64)
        values = np.empty((n_pairs, n), dtype=np.float32)
        if n_pairs == 0:
            return columns, values
        queries = sp.csr_matrix(queries, dtype=np.float32)
        by_term = sp.csr_matrix(by_term, dtype=np.float32)
        pair_query = np.asarray(query_rows, dtype=np.int64)
        pair_row = np.asarray(call_rows, dtype=np.int64)

        def run(span: tuple[int, int]) -> None:
            begin, stop = span
            kernels.top_columns(
                queries.indptr,
                queries.indices,
                queries.data,
                by_term.indptr,
                by_term.indices,
                by_term.data,
                pair_query[begin:stop],
                pair_row[begin:stop],
                len(self.vocabulary),
                columns[begin:stop],
                values[begin:stop],
            )

        if n_pairs < 1000:  # a few pairs (similar calls, one explanation): no threads
            run((0, n_pairs))
            return columns, values
        half = n_pairs // 2
        with ThreadPoolExecutor(max_workers=self.parallelism.threads) as pool:
            list(pool.map(run, [(0, half), (half, n_pairs)]))
        return columns, values

    def term_text(
        self, col: int, words: Mapping[str, str] | None = None, term: str | None = None
    ) -> str:
        """A readable form of word-block column ``col``: the call's own words where known.

        ``term``: the column's term, when the caller has it already (``vocabulary.term``).
        """
        words = words or {}
        term = self.vocabulary.term(col) if term is None else term
        if " " not in term:
            return words.get(term) or self._surface(term)
        return " ".join(words.get(t) or self._surface(t) for t in term.split(" "))

    def _surface(self, term: str) -> str:
        """The corpus' word for ``term``, as the calls write it where known."""
        word = self.analyzer.surface(term)
        return self._written.get(word, word)

    def bridge_words(
        self, query_rows: Sequence[int] | np.ndarray, columns: Sequence[int] | np.ndarray
    ) -> list[tuple[str, str] | None]:
        """Per pair (``query_rows[i]``, ``columns[i]``) of the queries last transformed: the
        query's own words that its expansion across languages carried to that column, as
        the query writes them, and their language (("Städtepartnerschaft", "de") for "town
        twinning"); None where the query has the column in its own words (or got it from
        feedback).

        Give each pair once, not once per match: a query's text is read again for the
        first of its pairs that came by the bridge, its source words once per source.
        """
        out: list[tuple[str, str] | None] = [None] * len(query_rows)
        bridged = self.query_bridges
        if bridged is None or not len(query_rows):
            return out
        # The pairs a bridge reached, picked in one pass (most pairs share their words).
        width = len(self.vocabulary) + 1
        reached = np.fromiter(
            (row * width + col for row, cols in enumerate(bridged.columns) for col in cols),
            dtype=np.int64,
        )
        rows = np.asarray(query_rows, dtype=np.int64)
        cols = np.asarray(columns, dtype=np.int64)
        picked = np.flatnonzero(np.isin(rows * width + cols, reached))
        read: dict[int, SourceWords] = {}
        words_of: dict[tuple[int, str | None, Terms], str | None] = {}
        for at, row, col in zip(
            picked.tolist(), rows[picked].tolist(), cols[picked].tolist(), strict=True
        ):
            bridge = bridged.columns[row][col]
            source = (row, bridge.stem_language, bridge.stems)
            words = words_of.get(source, "")
            if words == "":
                if row not in read:
                    read[row] = SourceWords(bridged.docs[row], bridged.words[row], self._stems)
                words = words_of[source] = read[row].find(bridge, self._stem_ids)
            if words:
                out[at] = (words, bridge.language)
        return out

    def top_terms(
        self,
        q_row: int,
        queries: sp.csr_matrix,
        d_row: int,
        calls: sp.csr_matrix,
        n: int = 5,
        words: Mapping[str, str] | None = None,
    ) -> list[tuple[str, float]]:
        """The words contributing most to one query–call score, as readable surface words.

        ``words`` (from :meth:`surface_words` of the call) names each term by the call's own
        word; terms it lacks fall back to the corpus' most seen form. ``calls`` is calls ×
        terms (for one pair; a ranking uses :meth:`top_columns` on its terms × calls).
        """
        (columns,) = self.top_columns(queries, calls[d_row].T.tocsr(), [q_row], [0], n)
        return [(self.term_text(col, words), value) for col, value in columns]
