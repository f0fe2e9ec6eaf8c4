"""The terms that explain a match, named by the words the texts use for them.

A match's explanation lists the word-block columns adding most to its score, each named by
the call's own word for it ("cities", "twinning", not the corpus' shortest form "city",
"twins") and, where the profile's expansion across languages reached it, by the profile's
own words ("Städtepartnerschaft" for "town twinning"). These read a fitted
:class:`~matcher.vectorize.TextModel` and the queries it transformed last.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp

from matcher.bridges import SourceWords
from matcher.documents import Document
from matcher.glossary import Terms
from matcher.kernels import ranking
from matcher.lexicon import Lexicon
from matcher.vectorize import TextModel
from matcher.written import Noted, written_words


def surface_words(
    model: TextModel,
    docs: Sequence[Document],
    wanted: Sequence[Collection[str]] | None = None,
) -> list[dict[str, str]]:
    """Per document, the word its text uses most for each of its terms (the first seen on
    a tie); with ``wanted``, for the ``wanted[i]`` terms of document ``i`` only.

    Vectorised like the analysis (:mod:`matcher.lexicon`): a string is made only for the
    word chosen per (document, term), so explaining thousands of calls needs no
    tokenisation in Python per call. Words are named as the fitted calls write them
    (``CorpusAnalysis.written``), as the analysis names them, else as these documents do.
    """
    stem_ids = dict(model.reader.stem_ids)
    lexicon = Lexicon(model.analyzer, stem_ids, list(model.reader.stems))
    out: list[dict[str, str]] = [{} for _ in docs]
    noted: list[dict[str, Noted] | None] = []  # per chunk: how these documents write
    for begin, chunk in model.reader.token_chunks(docs, lexicon):
        noted.append(chunk.tokens.written)
        stems = lexicon.stems  # grown by the chunk's new stems
        width = len(stems) + 1
        keys = chunk.docs_of * width + chunk.stem_ids
        keep = chunk.stem_ids >= 0
        if wanted is not None:
            wanted_keys = [
                j * width + stem_ids[term]
                for j, terms in enumerate(wanted[begin : begin + len(chunk.languages)])
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
        for key, position in zip(group_keys[lead].tolist(), first_seen[lead].tolist(), strict=True):
            row, stem = divmod(key, width)
            out[begin + row][stems[stem]] = chunk.tokens.folded(position)
    # As the fitted calls write a word where this process's fit read them all (the
    # same choice as the analysis makes), else as these documents do.
    fitted, own = model.reader.written, written_words(noted) or {}
    for words in out:
        for stem, word in words.items():
            words[stem] = fitted.get(word) or own.get(word) or word
    return out


def top_columns(
    model: TextModel,
    queries: sp.csr_matrix,
    by_term: sp.csr_matrix,
    query_rows: Sequence[int],
    call_rows: Sequence[int],
    n: int = 5,
) -> list[list[tuple[int, float]]]:
    """Per pair (``query_rows[i]``, ``call_rows[i]``): the word-block columns adding most
    to the pair's score, as (column, contribution), largest first (column on a tie).

    ``by_term`` holds the calls' vectors as terms × calls (``TextModel.fit_index``). See
    :func:`top_column_arrays` for the same as two arrays.
    """
    columns, values = top_column_arrays(model, queries, by_term, query_rows, call_rows, n)
    return [
        [(c, v) for c, v in zip(cols, vals, strict=True) if c >= 0]
        for cols, vals in zip(columns.tolist(), values.tolist(), strict=True)
    ]


def top_column_arrays(
    model: TextModel,
    queries: sp.csr_matrix,
    by_term: sp.csr_matrix,
    query_rows: Sequence[int] | np.ndarray,
    call_rows: Sequence[int] | np.ndarray,
    n: int = 5,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`top_columns` as arrays ``(columns, values)`` of shape (pairs, n), padded
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
        ranking.top_columns(
            ranking.csr_arrays(queries),
            ranking.csr_arrays(by_term),
            pair_query[begin:stop],
            pair_row[begin:stop],
            len(model.vocabulary),
            columns[begin:stop],
            values[begin:stop],
        )

    if n_pairs < 1000:  # a few pairs (similar calls, one explanation): no threads
        run((0, n_pairs))
        return columns, values
    half = n_pairs // 2
    with ThreadPoolExecutor(max_workers=model.parallelism.threads) as pool:
        list(pool.map(run, [(0, half), (half, n_pairs)]))
    return columns, values


def term_text(
    model: TextModel, col: int, words: Mapping[str, str] | None = None, term: str | None = None
) -> str:
    """A readable form of word-block column ``col``: the call's own words where known.

    ``term``: the column's term, when the caller has it already (``vocabulary.term``).
    """
    words = words or {}
    term = model.vocabulary.term(col) if term is None else term
    if " " not in term:
        return words.get(term) or _surface(model, term)
    return " ".join(words.get(t) or _surface(model, t) for t in term.split(" "))


def _surface(model: TextModel, term: str) -> str:
    """The corpus' word for ``term``, as the calls write it where known."""
    word = model.analyzer.surface(term)
    return model.reader.written.get(word, word)


def bridge_words(
    model: TextModel, query_rows: Sequence[int] | np.ndarray, columns: Sequence[int] | np.ndarray
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
    bridged = model.query_bridges
    if bridged is None or not len(query_rows):
        return out
    # The pairs a bridge reached, picked in one pass (most pairs share their words).
    width = len(model.vocabulary) + 1
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
                read[row] = SourceWords(bridged.docs[row], bridged.words[row], model.reader.stems)
            words = words_of[source] = read[row].find(bridge, model.reader.stem_ids)
        if words:
            out[at] = (words, bridge.language)
    return out


def top_terms(
    model: TextModel,
    q_row: int,
    queries: sp.csr_matrix,
    d_row: int,
    calls: sp.csr_matrix,
    n: int = 5,
    words: Mapping[str, str] | None = None,
) -> list[tuple[str, float]]:
    """The words contributing most to one query–call score, as readable surface words.

    ``words`` (from :func:`surface_words` of the call) names each term by the call's own
    word; terms it lacks fall back to the corpus' most seen form. ``calls`` is calls ×
    terms (for one pair; a ranking uses :func:`top_columns` on its terms × calls).
    """
    (columns,) = top_columns(model, queries, calls[d_row].T.tocsr(), [q_row], [0], n)
    return [(term_text(model, col, words), value) for col, value in columns]
