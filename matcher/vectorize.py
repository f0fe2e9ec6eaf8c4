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

The model fits and transforms; each step lives in a module of its own: reading texts into
stem ids (:mod:`matcher.reader`), counting (:mod:`matcher.counting`), the n-gram block
(:mod:`matcher.ngrams`), the expansion (:mod:`matcher.expansion`) and the unit rows
(:mod:`matcher.vectors`). What explains a match is read from a fitted model by
:mod:`matcher.terms`.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from matcher.analysis import Analyzer
from matcher.bridges import Bridge, QueryBridges
from matcher.corpus import CallCounts
from matcher.counting import Counting, count_calls
from matcher.documents import Document
from matcher.expansion import QueryExpansion
from matcher.kernels.counting import column_counts
from matcher.ngrams import NgramBlock, fit_ngrams
from matcher.params import ModelParams, Parallelism
from matcher.reader import TextReader
from matcher.vectors import CallPart, Weighting
from matcher.vocabulary import Vocabulary
from matcher.weighting import reference_counts, reference_document_frequencies, smoothed_idf


class TextModel:
    """Fit on the call corpus, then vectorise calls and (expanded) queries into one space."""

    def __init__(
        self,
        *,
        glossary: bool = True,
        dictionary_path: str | None = None,
        parallelism: Parallelism | None = None,
        index_folder: str | Path | None = None,
        **params: Any,
    ) -> None:
        """``index_folder``: where the parsed dictionary index is kept between processes
        (production: the instance's ``matcher`` folder); None: parse it in each process."""
        known = {f.name for f in fields(ModelParams)}
        unknown = set(params) - known
        if unknown:
            raise TypeError(f"unknown TextModel parameter(s): {', '.join(sorted(unknown))}")
        self.params = ModelParams(**params)
        self.parallelism = parallelism or Parallelism()
        self.analyzer = Analyzer()
        self.expansion = QueryExpansion(
            self.analyzer,
            self.params,
            glossary=glossary,
            dictionary_path=dictionary_path,
            index_folder=Path(index_folder) if index_folder is not None else None,
        )
        self.reader = TextReader(self.analyzer, self.parallelism)
        self.vocabulary = Vocabulary(self.reader.stem_ids, self.reader.stems, 0)
        self.idf = np.zeros(0)
        self.ngrams = NgramBlock.empty(0, self.params.ngram_size)
        self._column_df = np.zeros(0, dtype=np.int64)
        self._fitted = False
        # The queries last transformed, with what their expansion added (for explanations).
        self.query_bridges: QueryBridges | None = None

    # -- fitting --------------------------------------------------------------------------
    def _counting(self) -> Counting:
        """Counting over the vocabulary as it is now (a fit replaces it)."""
        return Counting.of(self.vocabulary, self.params, self.parallelism.threads)

    def fit(self, calls: Sequence[Document]) -> TextModel:
        """Learn the vocabulary, IDF and n-gram statistics from the call corpus."""
        self._fit_from_counts(self._count(calls))
        return self

    def fit_transform(self, calls: Sequence[Document]) -> sp.csr_matrix:
        """``fit(calls)`` then ``transform_calls(calls)``: one unit row per call."""
        return sp.csr_matrix(self.fit_index(calls).T)

    def fit_index(self, calls: Sequence[Document]) -> sp.csr_matrix:
        """Fit on ``calls`` and return their vectors as an index, terms × calls.

        It is what ranking and search read (one row per term, each sorted by call), and it is
        written in that layout (:meth:`matcher.vectors.Weighting.by_term`), so no calls ×
        terms copy is made. Each call is read once.
        """
        fitted = self._count(calls)
        parts = self._fit_from_counts(fitted)
        return self._weighting().by_term(
            fitted.counts, parts, self._column_df, self.parallelism.threads
        )

    def _count(self, calls: Sequence[Document]) -> CallCounts:
        analysis = self.reader.analyse_calls(calls)
        return count_calls(analysis, self.params, self.parallelism)

    def _set_stems(self, stems: list[str]) -> None:
        self.reader.renumber(stems)
        self.vocabulary = Vocabulary(self.reader.stem_ids, self.reader.stems, len(stems))

    def _weighting(self) -> Weighting:
        return Weighting(self.idf, self.ngrams, self.params.ngram_weight, self.vocabulary.n_stems)

    def _fit_from_counts(self, fitted: CallCounts) -> list[CallPart]:
        """Vocabulary, IDF and n-gram block from ``fitted``; its calls in parts (one per
        thread), each with the number of its calls using each column of the vectors."""
        self._set_stems(list(fitted.stems))
        self.vocabulary.bigram_codes = np.asarray(fitted.bigram_codes, dtype=np.int64)
        counts = fitted.counts
        n_docs = counts.shape[0]
        n_parts = min(self.parallelism.threads, n_docs)
        bounds = [n_docs * k // n_parts for k in range(n_parts + 1)] if n_docs else [0]

        def part(span: tuple[int, int]) -> CallPart:
            start, stop = span
            used = counts.indices[counts.indptr[start] : counts.indptr[stop]]
            return CallPart(start, stop, column_counts(used, len(self.vocabulary)))

        with ThreadPoolExecutor(max_workers=self.parallelism.threads) as pool:
            parts = list(pool.map(part, pairwise(bounds)))
        df = sum((part.df for part in parts), np.zeros(len(self.vocabulary), dtype=np.int64))
        self.idf = self._idf(df, n_docs, n_docs - int(fitted.german.sum()))
        self.ngrams, gram_df, part_grams = fit_ngrams(
            self.reader.stems[: self.vocabulary.n_stems],
            len(self.vocabulary),
            counts,
            [(part.start, part.stop) for part in parts],
            self.params,
            self.parallelism.threads,
        )
        # Calls per column of the vectors: the word block's, then the n-gram block's.
        self._column_df = np.concatenate([df, gram_df])
        for part, found in zip(parts, part_grams, strict=True):
            part.df = np.concatenate([part.df, found])
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
        reference = reference_counts()
        vocab = self.vocabulary
        extra = reference_document_frequencies(
            reference, self.reader.stem_ids, vocab.n_stems, vocab.bigram_codes
        )
        return smoothed_idf(df + weight * extra, n_docs + weight * reference.n_docs)

    # -- vectors --------------------------------------------------------------------------
    def _require_fit(self) -> None:
        if not self._fitted:
            raise RuntimeError("TextModel.fit() must be called before a transform")

    def transform_calls(self, calls: Sequence[Document]) -> sp.csr_matrix:
        """Call vectors: one L2-normalised row per call."""
        self._require_fit()
        batch = self.reader.read(calls, keep=True)
        counts = self._counting().rows(batch)
        extra = None
        if self.ngrams.index:
            extra = self.ngrams.unseen_word_grams(
                self.reader.query_terms(batch), self.vocabulary, self.params
            )
        return self._weighting().rows(counts, extra_grams=extra)

    def transform_queries(self, queries: Sequence[Document]) -> sp.csr_matrix:
        """Profile/query vectors, expanded across languages; one L2-normalised row each.

        Queries are analysed in this process only: a query's new words get stem ids in this
        model's table, which the explanations read afterwards (``query_bridges``).
        """
        self._require_fit()
        batch = self.reader.read(queries, keep=True)
        analysed = self.reader.query_terms(batch)
        counts = self._counting().rows(batch)
        bridges: list[dict[int, Bridge]] = [{} for _ in analysed]
        expansion = self.expansion.expand(analysed, self.vocabulary, self.idf, bridges)
        for row, bridged in enumerate(bridges):
            # A column the query has in its own words is not a bridge's.
            for col in counts.indices[counts.indptr[row] : counts.indptr[row + 1]].tolist():
                bridged.pop(col, None)
        self.query_bridges = QueryBridges(queries, batch.words or [], bridges)
        counts = sp.csr_matrix(counts + expansion)
        if self.params.max_query_terms > 0:
            counts = self._keep_top_terms(counts, self.params.max_query_terms)
        unseen = self.ngrams.unseen_word_grams(analysed, self.vocabulary, self.params)
        return self._weighting().rows(counts, self.params.query_idf_power, unseen)

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
