"""Query expansion across languages: a profile's words carried into the calls' other language.

The glossary comes first; then (optionally) the freedict dictionary for German words the
glossary lacks; then cognates, German words stemmed the English way. Each alternative is
weighted by its IDF among the calls, so a specific rendering carries more than a common one.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections import Counter
from itertools import pairwise
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from matcher.analysis import Analyzer, tokenize
from matcher.bridges import Bridge, note_bridge
from matcher.corpus import AnalysedTerms
from matcher.dictionary import DictionaryError, FreeDict
from matcher.documents import FIELDS
from matcher.glossary import PhraseTable, Terms, glossary_tables, load_glossary
from matcher.params import ModelParams
from matcher.vocabulary import Vocabulary

logger = logging.getLogger(__name__)

# Parsed dictionary indexes by (path, index mtime, analyzer min_length): reading and stemming
# half a million headwords is slow enough that a long-running process (scheduler, web app)
# does it once, not at every re-match.
_DICTIONARIES: dict[tuple[str, int, int], FreeDict] = {}

# Where a query's expansion notes each column's source: (bridges of the query, the query's
# language, the source phrases' language).
_Origin = tuple[dict[int, Bridge] | None, str, str]


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


def _with_bigrams(terms: list[str]) -> list[str]:
    return terms + [f"{a} {b}" for a, b in pairwise(terms)]


class QueryExpansion:
    """A text model's expansion of queries, with the glossary and dictionary it reads.

    The tables and the dictionary are read on first use and kept for the model's life; the
    fitted vocabulary and IDF are passed to :meth:`expand` each time, as a fit replaces them.
    A dictionary word's alternatives are kept for one vocabulary (only its terms can match).
    """

    def __init__(
        self,
        analyzer: Analyzer,
        params: ModelParams,
        *,
        glossary: bool,
        dictionary_path: str | None,
        index_folder: Path | None = None,
    ) -> None:
        self.analyzer = analyzer
        self.params = params
        self.use_glossary = glossary
        self.dictionary_path = dictionary_path
        # Where the parsed dictionary index is kept between processes; None: parse anew.
        self.index_folder = index_folder
        self._dictionary: FreeDict | bool | None = None
        self._alternatives: dict[str, list[Terms]] = {}
        self._alternatives_of: Vocabulary | None = None  # the vocabulary they were kept for
        self._tables: dict[str, PhraseTable] = {}

    def _phrase_tables(self) -> dict[str, PhraseTable]:
        if not self._tables and self.use_glossary:
            self._tables = glossary_tables(load_glossary(), self.analyzer)
        return self._tables

    def _dictionary_key(self) -> tuple[str, int, int]:
        index = Path(f"{self.dictionary_path}.index")
        stamp = index.stat().st_mtime_ns if index.exists() else 0
        return (str(self.dictionary_path), stamp, self.analyzer.min_length)

    def load_dictionary(self) -> FreeDict | None:
        """The freedict dictionary, read once; None when not configured or not installed."""
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
        self, dictionary: FreeDict, terms: list[str], vocabulary: Vocabulary
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
                alternatives = self._dictionary_alternatives(dictionary, key, vocabulary)
                if alternatives:
                    found.append(((key,), alternatives))
        return found

    def _dictionary_alternatives(
        self, dictionary: FreeDict, key: str, vocabulary: Vocabulary
    ) -> list[Terms]:
        if vocabulary is not self._alternatives_of:
            self._alternatives, self._alternatives_of = {}, vocabulary
        cached = self._alternatives.get(key)
        if cached is None:
            cached = []
            for phrase in dictionary.translations(key):
                terms = tuple(self.analyzer.terms(tokenize(phrase), "en"))
                if terms and terms not in cached and all(t in vocabulary for t in terms):
                    cached.append(terms)
                if len(cached) >= self.params.dictionary_alternatives:
                    break
            self._alternatives[key] = cached
        return cached

    def expand(
        self,
        analysed: list[AnalysedTerms],
        vocabulary: Vocabulary,
        idf: np.ndarray,
        bridges: list[dict[int, Bridge]] | None = None,
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
        dictionary = self.load_dictionary() if needs_dictionary else None
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
                own = {col for t in terms if (col := vocabulary.get(t)) is not None}
                weights: dict[int, float] = {}
                noted = bridges[row] if bridges is not None else None
                for source in ("de", "en") if language == "" else (language,):
                    covered: set[str] = set()
                    table = tables.get(source)
                    origin = (noted, language, source)
                    if table is not None:
                        covered = self._expand_with(
                            table.find(terms),
                            p.glossary_weight,
                            weights,
                            own,
                            vocabulary,
                            idf,
                            origin,
                        )
                    if source != "de":
                        continue
                    if dictionary is not None:
                        rest = [t for t in terms if t not in covered]
                        matches = self._dictionary_matches(dictionary, rest, vocabulary)
                        self._expand_with(
                            matches, p.dictionary_weight, weights, set(), vocabulary, idf, origin
                        )
                    if p.cognate_weight > 0:
                        self._add_cognates(tokens, set(terms), weights, vocabulary, noted)
                for col, weight in weights.items():
                    rows.append(row)
                    cols.append(col)
                    vals.append(weight)
        return sp.csr_matrix(
            (np.asarray(vals, dtype=np.float64), (rows, cols)),
            shape=(len(analysed), len(vocabulary)),
        )

    def _add_cognates(
        self,
        tokens: list[str],
        own: set[str],
        weights: dict[int, float],
        vocabulary: Vocabulary,
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
            col = vocabulary.get(term)
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
        vocabulary: Vocabulary,
        idf: np.ndarray,
        origin: _Origin = (None, "", ""),
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
        idf_of = idf.item  # a float per column, without a numpy call per alternative
        covered: set[str] = set()
        for key, count in occurrences.items():
            source_weight = strength * (1.0 + math.log(count))
            scored = []
            for alternative in alternatives_of[key]:
                cols = [vocabulary[t] for t in _with_bigrams(list(alternative)) if t in vocabulary]
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
