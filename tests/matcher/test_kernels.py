"""The counting kernels against plain Python on random documents."""

from __future__ import annotations

import math
from collections import Counter
from itertools import pairwise

import numpy as np
import pytest

from matcher.kernels import counting, tokens

N_STEMS = 40


def _documents(seed: int, n_docs: int = 60) -> list[list[list[int]]]:
    """Per document, per field (4), stem ids; some ids are unknown (>= N_STEMS)."""
    rng = np.random.default_rng(seed)
    return [
        [rng.integers(0, N_STEMS + 5, size=int(rng.integers(0, 30))).tolist() for _ in range(4)]
        for _ in range(n_docs)
    ]


def _layout(docs: list[list[list[int]]]) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray]:
    ids = tuple(np.array([i for doc in docs for i in doc[f]], dtype=np.int32) for f in range(4))
    lengths = np.array([[len(doc[f]) for f in range(4)] for doc in docs], dtype=np.int64)
    stops = np.cumsum(lengths, axis=0)
    return ids, stops - lengths, stops


def _pairs(field: list[int]) -> list[int]:
    return [a * N_STEMS + b for a, b in pairwise(field) if a < N_STEMS and b < N_STEMS]


def test_collect_pairs_finds_every_adjacent_pair_and_grows_its_table() -> None:
    docs = _documents(1)
    ids, starts, stops = _layout(docs)
    counted = np.array([True, True, False, True])
    keys, count = counting.collect_pairs(
        ids, starts, stops, counted, N_STEMS, np.full(16, -1, dtype=np.int64), 0
    )
    expected = {code for doc in docs for f in (0, 1, 3) for code in _pairs(doc[f])}
    assert len(keys) > 16  # it grew from 16 slots
    assert count == len(expected)
    assert set(keys[keys >= 0].tolist()) == expected


def test_column_counts_equal_bincount_including_unused_columns() -> None:
    indices = np.random.default_rng(5).integers(0, 40, size=1000).astype(np.int32)
    counts = counting.column_counts(indices, 50)
    assert counts.tolist() == np.bincount(indices, minlength=50).tolist()
    assert counts[40:].sum() == 0
    assert counting.column_counts(indices[:0], 3).tolist() == [0, 0, 0]


def test_code_table_maps_codes_to_their_position() -> None:
    codes = np.array([5, 17, 1 << 40, 99, 3], dtype=np.int64)
    keys, values = counting.code_table(codes)
    found = {int(k): int(v) for k, v in zip(keys, values, strict=True) if k >= 0}
    assert found == {5: 0, 17: 1, 1 << 40: 2, 99: 3, 3: 4}


@pytest.mark.parametrize("seed", [2, 3])
def test_count_rows_equals_weighted_sublinear_counts(seed: int) -> None:
    docs = _documents(seed)
    ids, starts, stops = _layout(docs)
    weights = np.array([2.0, 1.5, 0.0, 1.0], dtype=np.float32)
    every_pair = sorted({c for doc in docs for field in doc for c in _pairs(field)})
    kept = np.array(every_pair[::2], dtype=np.int64)  # half the pairs are in the vocabulary
    column_of = {int(code): N_STEMS + i for i, code in enumerate(kept)}
    keys, values = counting.code_table(kept)
    room = 2 * sum(len(part) for part in ids)
    indptr = np.empty(len(docs) + 1, dtype=np.int64)
    indices = np.empty(room, dtype=np.int32)
    data = np.empty(room, dtype=np.float32)
    nnz = counting.count_rows(
        ids,
        starts,
        stops,
        weights,
        N_STEMS,
        keys,
        values,
        N_STEMS + len(kept),
        indptr,
        indices,
        data,
    )
    assert indptr[-1] == nnz
    for d, doc in enumerate(docs):
        expected: dict[int, float] = {}
        for f, field in enumerate(doc):
            if weights[f] == 0.0:
                continue
            columns = [i for i in field if i < N_STEMS]
            columns += [column_of[c] for c in _pairs(field) if c in column_of]
            for col, n in Counter(columns).items():
                expected[col] = expected.get(col, 0.0) + float(weights[f]) * (1 + math.log(n))
        row = slice(indptr[d], indptr[d + 1])
        assert indices[row].tolist() == sorted(expected)
        assert data[row] == pytest.approx([expected[c] for c in sorted(expected)], rel=1e-6)


def test_count_rows_without_a_pair_table_counts_single_stems() -> None:
    docs = [[[1, 2, 1, 2], [], [], [7]]]
    ids, starts, stops = _layout(docs)
    indptr = np.empty(2, dtype=np.int64)
    indices = np.empty(10, dtype=np.int32)
    data = np.empty(10, dtype=np.float32)
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32))
    weights = np.ones(4, dtype=np.float32)
    nnz = counting.count_rows(
        ids, starts, stops, weights, N_STEMS, *empty, N_STEMS, indptr, indices, data
    )
    assert indices[:nnz].tolist() == [1, 2, 7]
    assert data[:nnz] == pytest.approx([1 + math.log(2), 1 + math.log(2), 1.0])


def test_split_fields_groups_the_kept_ids_by_field_in_document_order() -> None:
    rng = np.random.default_rng(9)
    n_docs, n_fields = 7, 4
    segments = np.sort(rng.integers(0, n_docs * n_fields, size=300))
    stem_ids = rng.integers(-1, 50, size=300).astype(np.int32)  # -1: a stop word
    ids, starts, lengths = tokens.split_fields(stem_ids, segments, n_docs, n_fields)
    for f in range(n_fields):
        mine = (segments % n_fields == f) & (stem_ids >= 0)
        assert ids[starts[f] : starts[f + 1]].tolist() == stem_ids[mine].tolist()
        counted = np.bincount(segments[mine] // n_fields, minlength=n_docs)
        assert lengths[f].tolist() == counted.tolist()
