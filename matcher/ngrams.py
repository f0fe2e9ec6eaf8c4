"""The n-gram block of the vectors: character n-grams of the vocabulary's stems.

It lets "Klimaanpassung" meet "Anpassung", and cognates such as "Digitalisierung" and
"digitalisation" meet across languages. The grams of each distinct stem are listed once, in
a term→n-gram matrix, so a document's grams are its counts times that matrix rather than a
pass over its text.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from matcher.corpus import AnalysedTerms
from matcher.documents import FIELDS
from matcher.kernels.vectors import gram_frequencies
from matcher.params import ModelParams
from matcher.vocabulary import Vocabulary


def char_ngrams(term: str, n: int) -> list[str]:
    """Character n-grams of a term with boundary marks ("<kli", "klim", …, "tz>")."""
    padded = f"<{term}>"
    return [padded[i : i + n] for i in range(len(padded) - n + 1)]


@dataclass
class NgramBlock:
    """The fitted n-gram block: which grams are columns, and their IDF over the calls."""

    matrix: sp.csr_matrix  # word-block columns × the block's grams, 1 where a stem has one
    idf: np.ndarray
    index: dict[str, int]  # a gram's column in the block
    size: int  # n
    # Per word the calls never used: its grams' columns (see unseen_word_grams).
    _unseen: dict[str, list[int]] = field(default_factory=dict, repr=False)

    @classmethod
    def empty(cls, n_columns: int, size: int) -> NgramBlock:
        """A block without grams (not fitted yet, or the n-gram weight is 0)."""
        return cls(sp.csr_matrix((n_columns, 0)), np.zeros(0), {}, size)

    @property
    def width(self) -> int:
        return self.matrix.shape[1]

    def unseen_word_grams(
        self, analysed: list[AnalysedTerms], vocabulary: Vocabulary, params: ModelParams
    ) -> sp.csr_matrix | None:
        """N-gram counts of German words the calls never used (mostly new compounds).

        Such words have no column in the word block, but their n-grams can still meet the
        calls' words: "Hitzeanpassungsstrategien" shares grams with "Anpassung". English
        texts are left out: their unseen words are names and codes, whose grams are noise.
        """
        if not self.index:
            return None
        weights = params.field_weights()
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        cache = self._unseen
        min_length = params.unseen_min_length
        for row, (language, doc, _) in enumerate(analysed):
            if language == "en":
                continue
            for name in FIELDS:
                unseen = Counter(
                    t for t in doc[name] if len(t) >= min_length and t not in vocabulary
                )
                for term, count in unseen.items():
                    gram_cols = cache.get(term)
                    if gram_cols is None:
                        found = {self.index.get(g) for g in char_ngrams(term, self.size)}
                        gram_cols = cache[term] = [c for c in found if c is not None]
                    weight = weights[name] * (1.0 + math.log(count))
                    rows.extend([row] * len(gram_cols))
                    cols.extend(gram_cols)
                    vals.extend([weight] * len(gram_cols))
        if not rows:
            return None
        return sp.csr_matrix(
            (np.asarray(vals), (rows, cols)), shape=(len(analysed), len(self.index))
        )


def fit_ngrams(
    stems: Sequence[str],
    n_columns: int,
    counts: sp.csr_matrix,
    spans: Sequence[tuple[int, int]],
    params: ModelParams,
    threads: int,
) -> tuple[NgramBlock, np.ndarray, list[np.ndarray]]:
    """The n-gram block of the stems ``stems`` (the first columns of ``n_columns``) over
    the calls ``counts``: the block, in how many calls each of its grams occurs, and the
    same per span (start, stop) of the calls, each span counted on a thread of its own.
    """
    n = params.ngram_size
    if params.ngram_weight <= 0.0:
        nothing = np.zeros(0, dtype=np.int64)
        return NgramBlock.empty(n_columns, n), nothing, [nothing for _ in spans]
    n_stems = len(stems)
    grams: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    for row in range(n_stems):
        for gram in char_ngrams(stems[row], n):
            col = grams.get(gram)
            if col is None:
                col = grams[gram] = len(grams)
            rows.append(row)
            cols.append(col)
    matrix = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_columns, len(grams))
    )
    matrix.data[:] = 1.0  # a gram twice in one stem still counts once
    with ThreadPoolExecutor(max_workers=threads) as pool:
        span_df = list(
            pool.map(
                lambda span: gram_frequencies(
                    counts.indptr,
                    counts.indices,
                    span[0],
                    span[1],
                    matrix.indptr,
                    matrix.indices,
                    len(grams),
                    n_stems,
                ),
                spans,
            )
        )
    df = sum(span_df, np.zeros(len(grams), dtype=np.int64))
    n_docs = counts.shape[0]
    # Grams in a large share of calls ("tion", "<pro") say nothing; dropping them keeps the
    # block sparse, and so the scoring fast.
    keep = np.flatnonzero((df > 0) & (df <= max(1.0, params.ngram_max_df * n_docs)))
    names = [""] * len(grams)
    for gram, col in grams.items():
        names[col] = gram
    block = NgramBlock(
        sp.csr_matrix(matrix[:, keep]),
        np.log((1.0 + n_docs) / (1.0 + df[keep])) + 1.0,
        {names[old]: new for new, old in enumerate(keep)},
        n,
    )
    return block, df[keep], [found[keep] for found in span_df]
