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

import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, fields
from itertools import pairwise
from typing import Any

import numpy as np
import scipy.sparse as sp

from matcher.analysis import Analyzer, tokenize
from matcher.dictionary import DictionaryError, FreeDict
from matcher.glossary import PhraseTable, Terms, glossary_tables, load_glossary
from storage.config import Settings

logger = logging.getLogger(__name__)

FIELDS = ("title", "summary", "description", "keywords")
# A document after analysis: its language, its terms per field, and all its folded tokens.
_Analysed = tuple[str, dict[str, list[str]], list[str]]


@dataclass(frozen=True)
class Document:
    """The text of a call or of a profile, by field."""

    title: str = ""
    summary: str = ""
    description: str = ""
    keywords: str = ""  # space or comma separated
    language: str = ""  # "de", "en" or "" (unknown: guessed from the text)


@dataclass(frozen=True)
class ModelParams:
    """Tunable parameters of :class:`TextModel`, with the defaults measured best."""

    title_weight: float = 2.0
    summary_weight: float = 1.5
    description_weight: float = 1.0
    keywords_weight: float = 1.5
    bigrams: bool = True
    min_bigram_df: int = 2
    ngram_weight: float = 0.25
    ngram_size: int = 4
    ngram_max_df: float = 0.3
    unseen_min_length: int = 6  # unseen words shorter than this get no n-grams
    glossary_weight: float = 1.0
    dictionary_weight: float = 1.0
    dictionary_alternatives: int = 3
    cognate_weight: float = 0.5
    max_query_terms: int = 0  # 0: keep every term of a query
    query_idf_power: float = 1.0
    query_sublinear: bool = True


def _sublinear(matrix: sp.csr_matrix) -> sp.csr_matrix:
    matrix.data = 1.0 + np.log(matrix.data)
    return matrix


def _l2_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0.0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ matrix)


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


class TextModel:
    """Fit on the call corpus, then vectorise calls and (expanded) queries into one space."""

    def __init__(
        self, *, glossary: bool = True, dictionary_path: str | None = None, **params: Any
    ) -> None:
        known = {f.name for f in fields(ModelParams)}
        unknown = set(params) - known
        if unknown:
            raise TypeError(f"unknown TextModel parameter(s): {', '.join(sorted(unknown))}")
        self.params = ModelParams(**params)
        self.analyzer = Analyzer()
        self.use_glossary = glossary
        self.dictionary_path = dictionary_path
        self._dictionary: FreeDict | bool | None = None
        self._dictionary_cache: dict[str, list[Terms]] = {}
        self._tables: dict[str, PhraseTable] = {}
        self.vocabulary: dict[str, int] = {}
        self.terms: list[str] = []
        self.idf = np.zeros(0)
        self._ngram_matrix = sp.csr_matrix((0, 0))
        self._ngram_idf = np.zeros(0)
        self._gram_index: dict[str, int] = {}
        self._unseen_cache: dict[str, list[int]] = {}
        self._fitted = False

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

    def _document_terms(self, doc: Document) -> _Analysed:
        """The language of ``doc``, its terms per field (unigrams, then bigrams), its tokens."""
        tokens = {name: tokenize(getattr(doc, name) or "") for name in FIELDS}
        language = self.analyzer.language_of(
            tokens["title"] + tokens["summary"] + tokens["description"][:400], doc.language
        )
        out: dict[str, list[str]] = {}
        for name in FIELDS:
            terms = self.analyzer.terms(tokens[name], language)
            out[name] = _with_bigrams(terms) if self.params.bigrams else terms
        return language, out, [t for name in FIELDS for t in tokens[name]]

    def _count_matrix(self, per_doc: list[dict[str, list[str]]], *, grow: bool) -> sp.csr_matrix:
        """Field-weighted sublinear tf of analysed documents (rows) over the vocabulary."""
        weights = self._field_weights()
        total: sp.csr_matrix | None = None
        for name in FIELDS:
            if weights[name] == 0.0:
                continue
            indices: list[int] = []
            indptr = [0]
            vocab = self.vocabulary
            for doc in per_doc:
                if grow:
                    for term in doc[name]:
                        col = vocab.get(term)
                        if col is None:
                            col = vocab[term] = len(vocab)
                        indices.append(col)
                else:
                    for term in doc[name]:
                        col = vocab.get(term)
                        if col is not None:
                            indices.append(col)
                indptr.append(len(indices))
            counts = sp.csr_matrix(
                (np.ones(len(indices)), np.asarray(indices, dtype=np.int64), indptr),
                shape=(len(per_doc), len(vocab)),
            )
            counts.sum_duplicates()
            block = _sublinear(counts) * weights[name]
            if total is None:
                total = block
            else:
                total.resize(block.shape)
                total = total + block
        if total is None:
            raise ValueError("every field weight is zero")
        total.resize((len(per_doc), len(self.vocabulary)))
        return sp.csr_matrix(total)

    # -- fitting --------------------------------------------------------------------------

    def fit(self, calls: Sequence[Document]) -> TextModel:
        """Learn the vocabulary, IDF and n-gram statistics from the call corpus."""
        self._fit_counts(calls)
        return self

    def fit_transform(self, calls: Sequence[Document]) -> sp.csr_matrix:
        """``fit(calls)`` then ``transform(calls)``, analysing each call once."""
        return self._vectors(self._fit_counts(calls))

    def _fit_counts(self, calls: Sequence[Document]) -> sp.csr_matrix:
        self.vocabulary = {}
        per_doc = [self._document_terms(doc)[1] for doc in calls]
        counts = self._count_matrix(per_doc, grow=True)
        counts = self._prune_bigrams(counts)
        n_docs = counts.shape[0]
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        self.idf = np.log((1.0 + n_docs) / (1.0 + df)) + 1.0
        self._fit_ngrams(counts)
        self._fitted = True
        return counts

    def _prune_bigrams(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """Drop bigrams seen in fewer than ``min_bigram_df`` calls (noise, and memory)."""
        self.terms = [""] * len(self.vocabulary)
        for term, col in self.vocabulary.items():
            self.terms[col] = term
        if not self.params.bigrams or self.params.min_bigram_df <= 1:
            return counts
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        is_bigram = np.fromiter((" " in t for t in self.terms), dtype=bool, count=len(self.terms))
        keep = np.flatnonzero(~is_bigram | (df >= self.params.min_bigram_df))
        self.terms = [self.terms[i] for i in keep]
        self.vocabulary = {term: col for col, term in enumerate(self.terms)}
        return sp.csr_matrix(counts[:, keep])

    def _fit_ngrams(self, counts: sp.csr_matrix) -> None:
        """Build the term→n-gram matrix and the n-gram IDF over the call corpus."""
        n = self.params.ngram_size
        if self.params.ngram_weight <= 0.0:
            self._ngram_matrix = sp.csr_matrix((len(self.terms), 0))
            self._ngram_idf = np.zeros(0)
            self._gram_index = {}
            return
        grams: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        for row, term in enumerate(self.terms):
            if " " in term:
                continue
            for gram in _char_ngrams(term, n):
                col = grams.get(gram)
                if col is None:
                    col = grams[gram] = len(grams)
                rows.append(row)
                cols.append(col)
        matrix = sp.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(self.terms), len(grams))
        )
        matrix.data[:] = 1.0  # a gram twice in one stem still counts once
        doc_grams = counts @ matrix
        n_docs = counts.shape[0]
        df = np.bincount(doc_grams.indices, minlength=doc_grams.shape[1])
        # Grams in a large share of calls ("tion", "<pro") say nothing; dropping them keeps the
        # block sparse, which is what keeps scoring 50,000 calls fast.
        keep = np.flatnonzero((df > 0) & (df <= max(1.0, self.params.ngram_max_df * n_docs)))
        self._ngram_matrix = sp.csr_matrix(matrix[:, keep])
        self._ngram_idf = np.log((1.0 + n_docs) / (1.0 + df[keep])) + 1.0
        names = [""] * len(grams)
        for gram, col in grams.items():
            names[col] = gram
        self._gram_index = {names[old]: new for new, old in enumerate(keep)}
        self._unseen_cache = {}

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
                    t
                    for t in doc[name]
                    if len(t) >= min_length and " " not in t and t not in self.vocabulary
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
        words = _l2_rows(sp.csr_matrix(counts.multiply(idf[np.newaxis, :])))
        beta = self.params.ngram_weight
        if beta <= 0.0 or self._ngram_matrix.shape[1] == 0:
            return words.astype(np.float32)
        grams = counts @ self._ngram_matrix
        if extra_grams is not None:
            grams = grams + extra_grams
        grams = _l2_rows(sp.csr_matrix(grams.multiply(self._ngram_idf[np.newaxis, :])))
        stacked = sp.hstack([words * math.sqrt(1.0 - beta), grams * math.sqrt(beta)])
        return sp.csr_matrix(stacked, dtype=np.float32)

    def transform(self, calls: Sequence[Document]) -> sp.csr_matrix:
        """Call vectors: one L2-normalised row per call."""
        self._require_fit()
        analysed = [self._document_terms(doc) for doc in calls]
        counts = self._count_matrix([terms for _, terms, _ in analysed], grow=False)
        return self._vectors(counts, extra_grams=self._unseen_word_grams(analysed))

    def transform_queries(self, queries: Sequence[Document]) -> sp.csr_matrix:
        """Profile/query vectors, expanded across languages; one L2-normalised row each."""
        self._require_fit()
        analysed = [self._document_terms(doc) for doc in queries]
        counts = self._count_matrix([terms for _, terms, _ in analysed], grow=False)
        expansion = self._expansions(analysed)
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

    def _load_dictionary(self) -> FreeDict | None:
        """The freedict dictionary, read once; None when not configured or not installed."""
        if self._dictionary is None and self.dictionary_path:
            try:
                self._dictionary = FreeDict(
                    self.dictionary_path, lambda words: self.analyzer.stem_words(words, "de")
                )
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

    def _expansions(self, analysed: list[_Analysed]) -> sp.csr_matrix:
        """Weighted target-language terms for each query (rows): glossary, dictionary, cognates.

        The glossary comes first; the dictionary only sees German words the glossary did not
        cover, so a curated rendering is never diluted by a dictionary's many senses.
        """
        tables = self._phrase_tables()
        dictionary = self._load_dictionary() if self.params.dictionary_weight > 0 else None
        p = self.params
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for row, (language, per_field, tokens) in enumerate(analysed):
            # Unigrams of every field, in order; bigrams are rebuilt from the phrases found.
            terms = [t for name in FIELDS for t in per_field[name] if " " not in t]
            # English text into German calls: a German rendering that the English text already
            # contains is an accidental overlap ("digital", "system"), not a translation.
            own = {self.vocabulary[t] for n in FIELDS for t in per_field[n] if t in self.vocabulary}
            weights: dict[int, float] = {}
            for source in ("de", "en") if language == "" else (language,):
                covered: set[str] = set()
                table = tables.get(source)
                if table is not None:
                    covered = self._expand_with(table.find(terms), p.glossary_weight, weights, own)
                if source != "de":
                    continue
                if dictionary is not None:
                    rest = [t for t in terms if t not in covered]
                    matches = self._dictionary_matches(dictionary, rest)
                    self._expand_with(matches, p.dictionary_weight, weights, set())
                if p.cognate_weight > 0:
                    self._add_cognates(tokens, set(terms), weights)
            for col, weight in weights.items():
                rows.append(row)
                cols.append(col)
                vals.append(weight)
        return sp.csr_matrix(
            (np.asarray(vals, dtype=np.float64), (rows, cols)),
            shape=(len(analysed), len(self.vocabulary)),
        )

    def _add_cognates(self, tokens: list[str], own: set[str], weights: dict[int, float]) -> None:
        """German words stemmed the English way, when that stem is a call term.

        "Innovation", "digitale", "Integration" become "innov", "digit", "integr": many words
        of the funding domain are shared Latin and Greek, spelt alike in both languages.
        """
        counts = Counter(
            t for t in self.analyzer.terms([x for x in tokens if len(x) >= 5], "") if t not in own
        )
        for term, count in counts.items():
            col = self.vocabulary.get(term)
            if col is not None:
                weights[col] = weights.get(col, 0.0) + self.params.cognate_weight * (
                    1.0 + math.log(count)
                )

    def _expand_with(
        self,
        found: list[tuple[Terms, list[Terms]]],
        strength: float,
        weights: dict[int, float],
        own: set[int],
    ) -> set[str]:
        """Add the alternatives of every source phrase in ``found`` to ``weights``.

        A source phrase seen c times weighs ``strength * (1 + log c)``, shared among its
        alternatives in proportion to their IDF: the specific rendering ("town twinning")
        carries more than a common one, and renderings absent from the calls carry nothing.
        Returns the source terms that had a rendering.
        """
        occurrences: Counter[Terms] = Counter()
        alternatives_of: dict[Terms, list[Terms]] = {}
        for key, alternatives in found:
            occurrences[key] += 1
            alternatives_of[key] = alternatives
        vocab = self.vocabulary
        covered: set[str] = set()
        for key, count in occurrences.items():
            source_weight = strength * (1.0 + math.log(count))
            scored = []
            for alternative in alternatives_of[key]:
                cols = [vocab[t] for t in _with_bigrams(list(alternative)) if t in vocab]
                cols = [c for c in cols if c not in own]
                if cols:
                    scored.append((cols, float(np.mean(self.idf[cols]))))
            if not scored:
                continue
            covered.update(key)
            total = sum(score for _, score in scored)
            for cols, score in scored:
                share = source_weight * score / total
                for col in cols:
                    weights[col] = weights.get(col, 0.0) + share
        return covered

    # -- scoring --------------------------------------------------------------------------

    def similarity(self, queries: sp.csr_matrix, calls: sp.csr_matrix) -> np.ndarray:
        """Scores of every query against every call (n_queries x n_calls), float32."""
        product = queries @ calls.T
        return np.asarray(product.toarray(), dtype=np.float32)

    def top_terms(
        self, q_row: int, queries: sp.csr_matrix, d_row: int, calls: sp.csr_matrix, n: int = 5
    ) -> list[tuple[str, float]]:
        """The words contributing most to one query–call score, as readable surface words."""
        n_words = len(self.terms)
        q = queries.getrow(q_row)
        d = calls.getrow(d_row)
        contribution = q.multiply(d).tocsr()
        pairs = [
            (int(col), float(val))
            for col, val in zip(contribution.indices, contribution.data, strict=True)
            if col < n_words and val > 0.0
        ]
        pairs.sort(key=lambda cv: (-cv[1], self.terms[cv[0]]))
        out: list[tuple[str, float]] = []
        for col, val in pairs[:n]:
            words = " ".join(self.analyzer.surface(t) for t in self.terms[col].split(" "))
            out.append((words, val))
        return out
