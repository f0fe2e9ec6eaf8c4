"""Term weights of the text model: IDF from the calls, steadied by a reference corpus.

The calls alone are a poor sample of how common a word is. Call titles and keyword lists are
short and specific, so the words every project description uses ("develop", "solution",
"approach", "system") are rare among them and get a high IDF; a profile, written as
proposal prose, then scores on those words against whichever short call happens to contain
one. The shipped reference corpus, 629 full call texts of the EU Funding & Tenders Portal
(``data/reference_calls.jsonl.gz``, see ``data/SOURCES.md``), is written in that same prose: its
document frequencies, added to the calls' own, pull such words down and leave the words
that name a subject where they were. With a large corpus of full call texts the reference
adds a few hundred documents to tens of thousands and changes little.

The reference is English, so it counts in proportion to the calls that are not German; a
corpus of German calls keeps its own statistics.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from matcher.analysis import Analyzer, tokenize

REFERENCE_FILE = Path(__file__).parent / "data" / "reference_calls.jsonl.gz"


@dataclass(frozen=True)
class ReferenceCounts:
    """Document frequencies of a reference corpus, by stem and by adjacent pair of stems."""

    stems: tuple[str, ...]
    df: np.ndarray  # documents containing each stem
    pairs: np.ndarray  # (k, 2) indices into ``stems``: adjacent stems ("a b")
    pair_df: np.ndarray  # documents containing each pair
    n_docs: int


def smoothed_idf(df: np.ndarray, n_docs: float) -> np.ndarray:
    """``log((1 + n) / (1 + df)) + 1``: scikit-learn's smooth IDF, never zero.

    The ``+ 1`` keeps words found in every call in play at a low weight; measured against
    the unsmoothed and the BM25 forms (``log((n - df + .5) / (df + .5))``), which both rank
    worse on the CORDIS benchmark because long profiles match short calls on many mid-
    frequency words at once.
    """
    return np.log((1.0 + n_docs) / (1.0 + np.asarray(df, dtype=np.float64))) + 1.0


def count_reference(texts: list[str], analyzer: Analyzer, language: str = "en") -> ReferenceCounts:
    """Document frequencies of stems and stem bigrams in ``texts``, analysed as ``language``."""
    # Each distinct token is stemmed once; a token maps straight to its stem's index (-1: stop).
    stem_index: dict[str, int] = {}
    token_index: dict[str, int] = {}
    ids: list[int] = []
    lengths: list[int] = []
    for text in texts:
        tokens = tokenize(text)
        for token in set(tokens).difference(token_index):
            stem = analyzer.stem(token, language)
            token_index[token] = (
                -1 if stem is None else stem_index.setdefault(stem, len(stem_index))
            )
        found = [i for i in map(token_index.__getitem__, tokens) if i >= 0]
        ids.extend(found)
        lengths.append(len(found))
    n_stems = len(stem_index)
    stem_ids = np.asarray(ids, dtype=np.int64)
    docs = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
    # One key per (document, stem) and per (document, pair); distinct keys count documents.
    df = np.bincount(np.unique(docs * n_stems + stem_ids) % n_stems, minlength=n_stems)
    same = docs[:-1] == docs[1:]
    codes = stem_ids[:-1][same] * n_stems + stem_ids[1:][same]
    n_codes = n_stems * n_stems
    pair_codes, pair_df = np.unique(
        np.unique(docs[:-1][same] * n_codes + codes) % n_codes, return_counts=True
    )
    return ReferenceCounts(
        stems=tuple(stem_index),
        df=df.astype(np.float64),
        pairs=np.stack([pair_codes // n_stems, pair_codes % n_stems], axis=1),
        pair_df=pair_df.astype(np.float64),
        n_docs=len(texts),
    )


@lru_cache(maxsize=1)
def reference_counts() -> ReferenceCounts:
    """The shipped reference corpus, counted once per process with the default analyzer.

    :class:`matcher.vectorize.TextModel` analyses with a default :class:`Analyzer`, so the
    stems here are the stems of its vocabulary.
    """
    with gzip.open(REFERENCE_FILE, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    texts = [f"{row.get('title') or ''}. {row.get('text') or ''}" for row in rows]
    return count_reference(texts, Analyzer())


def reference_document_frequencies(
    reference: ReferenceCounts,
    stem_ids: Mapping[str, int],
    n_stems: int,
    bigram_codes: np.ndarray,
) -> np.ndarray:
    """The reference's document frequency of every column of a fitted vocabulary.

    Columns are the fitted stems (``stem_ids`` below ``n_stems``), then the kept bigrams,
    coded ``first * n_stems + second`` and sorted; terms the calls never used get nothing.
    """
    n_cols = n_stems + len(bigram_codes)
    out = np.zeros(n_cols, dtype=np.float64)
    columns = np.fromiter(
        (stem_ids.get(stem, -1) for stem in reference.stems),
        dtype=np.int64,
        count=len(reference.stems),
    )
    columns[columns >= n_stems] = -1  # stems numbered after the fit are not columns
    known = columns >= 0
    out[:n_stems] = np.bincount(columns[known], weights=reference.df[known], minlength=n_stems)
    if len(bigram_codes) and len(reference.pairs):
        first = columns[reference.pairs[:, 0]]
        second = columns[reference.pairs[:, 1]]
        both = (first >= 0) & (second >= 0)
        codes = first[both] * n_stems + second[both]
        pos = np.searchsorted(bigram_codes, codes)
        pos[pos == len(bigram_codes)] = 0
        hit = bigram_codes[pos] == codes
        out[n_stems:] = np.bincount(
            pos[hit], weights=reference.pair_df[both][hit], minlength=len(bigram_codes)
        )
    return out
