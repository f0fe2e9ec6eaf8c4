"""Compiled inner loops of ranking and explaining (numba), where numpy would need a dense
profiles × calls matrix or a Python loop per match.

* :func:`top_calls`: for a range of profiles, the similarity to every call (sparse query
  rows against the calls' transposed vectors, accumulated in one dense row per profile), the
  hard filters and soft factors (masks made by :class:`matcher.eligibility.CallTable`), the
  "not relevant" exclusions, and the best ``keep`` calls, ties broken by call id. It replaces
  a scipy sparse product with a dense result plus ``argpartition`` and runs about four times
  faster, because nothing profiles × calls is ever allocated.
* :func:`top_columns`: for (profile, call) pairs, the word-block columns adding most to the
  score (the terms an explanation names).
* :func:`gram_frequencies` and :func:`vectors_by_term`: the calls' vectors (word block and
  n-gram block) computed from their counts and written straight into the terms × calls
  layout the two kernels above read, on two threads, so no calls × terms matrix and no
  transposed copy is ever made.
* :func:`look_up_tokens` and :func:`split_fields`: token hashes to stem ids through the
  lexicon's table, and the ids of a chunk of documents grouped by field.
* :func:`collect_pairs` and :func:`count_rows`: counting. The stem pairs (bigrams) of a
  corpus go into an open-addressing hash set, and each document's field-weighted sublinear
  tf is counted in dense per-column counters, instead of sorting every occurrence of the
  corpus at once.

All release the GIL (``nogil``), so callers run chunks on two threads. Compiled code is
cached beside this module (``cache=True``), so only the first process after an install pays
the compilation (a few seconds).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, cache=True)
def top_calls(
    q_indptr: np.ndarray,
    q_indices: np.ndarray,
    q_data: np.ndarray,
    t_indptr: np.ndarray,
    t_indices: np.ndarray,
    t_data: np.ndarray,
    start: int,
    eligible: np.ndarray,
    factor: np.ndarray,
    excluded_indptr: np.ndarray,
    excluded_rows: np.ndarray,
    call_ids: np.ndarray,
    gate: float,
    out_rows: np.ndarray,
    out_scores: np.ndarray,
    out_similarity: np.ndarray,
) -> None:
    """Rank the calls for the profiles ``start .. start + len(eligible)``.

    ``q_*``: the query rows (CSR, float32); ``t_*``: the calls' vectors transposed (CSR, one
    row per term, float32). Row ``j`` of ``eligible`` (bool) and ``factor`` (float32) is
    profile ``start + j`` over all calls; ``excluded_rows[excluded_indptr[j]:...[j + 1]]``
    are call rows never to list for it. A call is listed if it is eligible, not excluded and
    its similarity reaches ``gate``; its score is similarity × factor. Writes the best
    ``out_rows.shape[1]`` per profile (row, score, similarity), best first, ties by call id,
    padded with row -1.
    """
    n_calls = eligible.shape[1]
    keep = out_rows.shape[1]
    similarity = np.zeros(n_calls, dtype=np.float32)
    blocked = np.zeros(n_calls, dtype=np.bool_)
    rows = np.empty(n_calls, dtype=np.int64)
    scores = np.empty(n_calls, dtype=np.float32)
    for j in range(eligible.shape[0]):
        q = start + j
        for p in range(q_indptr[q], q_indptr[q + 1]):
            term = q_indices[p]
            weight = q_data[p]
            for r in range(t_indptr[term], t_indptr[term + 1]):
                similarity[t_indices[r]] += weight * t_data[r]
        for p in range(excluded_indptr[j], excluded_indptr[j + 1]):
            blocked[excluded_rows[p]] = True
        m = 0
        for d in range(n_calls):
            s = similarity[d]
            if s >= gate and eligible[j, d] and not blocked[d]:
                rows[m] = d
                scores[m] = s * factor[j, d]
                m += 1
        if m > keep:
            # Only calls at least as good as the keep-th best can be listed; among those,
            # the order is by score, then call id.
            threshold = np.partition(scores[:m], m - keep)[m - keep]
            n_top = 0
            for i in range(m):
                if scores[i] >= threshold:
                    rows[n_top] = rows[i]
                    scores[n_top] = scores[i]
                    n_top += 1
            m = n_top
        by_id = np.argsort(call_ids[rows[:m]], kind="mergesort")
        order = by_id[np.argsort(-scores[:m][by_id], kind="mergesort")]
        for i in range(keep):
            if i < m:
                d = rows[order[i]]
                out_rows[j, i] = d
                out_scores[j, i] = scores[order[i]]
                out_similarity[j, i] = similarity[d]
            else:
                out_rows[j, i] = -1
        for d in range(n_calls):
            similarity[d] = 0.0
        for p in range(excluded_indptr[j], excluded_indptr[j + 1]):
            blocked[excluded_rows[p]] = False


@numba.njit(nogil=True, cache=True)
def top_columns(
    q_indptr: np.ndarray,
    q_indices: np.ndarray,
    q_data: np.ndarray,
    t_indptr: np.ndarray,
    t_indices: np.ndarray,
    t_data: np.ndarray,
    pair_query: np.ndarray,
    pair_row: np.ndarray,
    n_words: int,
    out_columns: np.ndarray,
    out_values: np.ndarray,
) -> None:
    """For each pair ``i`` (query row ``pair_query[i]``, call ``pair_row[i]``): the columns
    below ``n_words`` with the largest positive products query × call, largest first, ties
    by column, at most ``out_columns.shape[1]``; padded with column -1.

    ``t_*`` are the calls' vectors by term (terms × calls CSR, each row sorted by call), so
    a call's weight for a query term is found by binary search in that term's row.
    """
    n = out_columns.shape[1]
    for i in range(len(pair_query)):
        q = pair_query[i]
        d = pair_row[i]
        found = 0
        for p in range(q_indptr[q], q_indptr[q + 1]):
            col = q_indices[p]
            if col >= n_words:
                continue
            lo = t_indptr[col]
            hi = t_indptr[col + 1]
            at = lo + np.searchsorted(t_indices[lo:hi], d)
            if at >= hi or t_indices[at] != d:
                continue
            value = t_data[at] * q_data[p]
            if value <= 0.0:
                continue
            # Insertion into the sorted top n (value descending, column ascending).
            k = found
            while k > 0 and (
                out_values[i, k - 1] < value
                or (out_values[i, k - 1] == value and out_columns[i, k - 1] > col)
            ):
                k -= 1
            if k >= n:
                continue
            for m in range(min(found, n - 1), k, -1):
                out_values[i, m] = out_values[i, m - 1]
                out_columns[i, m] = out_columns[i, m - 1]
            out_values[i, k] = value
            out_columns[i, k] = col
            if found < n:
                found += 1
        for k in range(found, n):
            out_columns[i, k] = -1
            out_values[i, k] = 0.0


@numba.njit(nogil=True, cache=True)
def gather_rows(
    sources: np.ndarray,
    base_indptr: np.ndarray,
    base_indices: np.ndarray,
    base_data: np.ndarray,
    base_columns: np.ndarray,
    fresh_indptr: np.ndarray,
    fresh_indices: np.ndarray,
    fresh_data: np.ndarray,
    out_indptr: np.ndarray,
    out_indices: np.ndarray,
    out_data: np.ndarray,
) -> None:
    """Write CSR rows from two sources: row ``r`` is base row ``sources[r]`` (its columns
    renumbered by ``base_columns``) or, where ``sources[r] < 0``, fresh row
    ``-1 - sources[r]`` as it is. ``out_indptr`` is already filled."""
    for r in range(len(sources)):
        at = out_indptr[r]
        s = sources[r]
        if s >= 0:
            for p in range(base_indptr[s], base_indptr[s + 1]):
                out_indices[at] = base_columns[base_indices[p]]
                out_data[at] = base_data[p]
                at += 1
        else:
            k = -1 - s
            for p in range(fresh_indptr[k], fresh_indptr[k + 1]):
                out_indices[at] = fresh_indices[p]
                out_data[at] = fresh_data[p]
                at += 1


@numba.njit(nogil=True, cache=True)
def column_counts(indices: np.ndarray, n_columns: int) -> np.ndarray:
    """How often each column ``0 .. n_columns - 1`` occurs in ``indices`` (``np.bincount``
    without the int64 copy of 34 million column indices it makes first)."""
    counts = np.zeros(n_columns, dtype=np.int64)
    for i in range(len(indices)):
        counts[indices[i]] += 1
    return counts


@numba.njit(nogil=True, cache=True)
def renumber(indices: np.ndarray, columns: np.ndarray) -> None:
    """In place: ``indices[i] = columns[indices[i]]``."""
    for i in range(len(indices)):
        indices[i] = columns[indices[i]]


# -- counting: a hash table of stem-pair codes, and field-weighted tf rows -------------------

_EMPTY_CODE = -1
_HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


@numba.njit(nogil=True, cache=True, inline="always")
def _first_slot(code: int, mask: int) -> int:
    # Fibonacci hashing: the high bits of code × 2^64/φ, folded to the table size.
    return int((np.uint64(code) * _HASH_MULTIPLIER) >> np.uint64(32)) & mask


@numba.njit(nogil=True, cache=True)
def _add_code(keys: np.ndarray, code: int) -> bool:
    """Put ``code`` into the open-addressing set ``keys``; True if it was not there."""
    mask = len(keys) - 1
    slot = _first_slot(code, mask)
    while True:
        found = keys[slot]
        if found == code:
            return False
        if found == _EMPTY_CODE:
            keys[slot] = code
            return True
        slot = (slot + 1) & mask


@numba.njit(nogil=True, cache=True)
def _grown(keys: np.ndarray) -> np.ndarray:
    bigger = np.full(2 * len(keys), _EMPTY_CODE, dtype=np.int64)
    for code in keys:
        if code != _EMPTY_CODE:
            _add_code(bigger, code)
    return bigger


@numba.njit(nogil=True, cache=True)
def code_table(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A lookup table ``code → position in codes`` (keys, values; see :func:`count_rows`)."""
    size = 16
    while size < 2 * len(codes):
        size *= 2
    keys = np.full(size, _EMPTY_CODE, dtype=np.int64)
    values = np.full(size, -1, dtype=np.int32)
    mask = size - 1
    for i in range(len(codes)):
        slot = _first_slot(codes[i], mask)
        while keys[slot] != _EMPTY_CODE and keys[slot] != codes[i]:
            slot = (slot + 1) & mask
        keys[slot] = codes[i]
        values[slot] = i
    return keys, values


@numba.njit(nogil=True, cache=True, inline="always")
def _look_up(keys: np.ndarray, values: np.ndarray, code: int) -> int:
    mask = len(keys) - 1
    slot = _first_slot(code, mask)
    while True:
        found = keys[slot]
        if found == code:
            return values[slot]
        if found == _EMPTY_CODE:
            return -1
        slot = (slot + 1) & mask


@numba.njit(nogil=True, cache=True)
def collect_pairs(
    field_ids: tuple[np.ndarray, ...],
    starts: np.ndarray,
    stops: np.ndarray,
    counted: np.ndarray,
    n_stems: int,
    keys: np.ndarray,
    count: int,
) -> tuple[np.ndarray, int]:
    """Add the code ``a * n_stems + b`` of every adjacent stem pair to the set ``keys``.

    Document ``d``'s stems in field ``f`` are ``field_ids[f][starts[d, f]:stops[d, f]]``;
    fields with ``counted[f]`` false are skipped, and so are pairs with an id outside
    ``0 .. n_stems - 1``. ``keys`` (size a power of two, ``-1`` for empty) grows as needed;
    returns the set and the number of codes in it.
    """
    for d in range(starts.shape[0]):
        for f in range(starts.shape[1]):
            if not counted[f]:
                continue
            ids = field_ids[f]
            for t in range(starts[d, f], stops[d, f] - 1):
                a = np.int64(ids[t])
                b = np.int64(ids[t + 1])
                if a < 0 or b < 0 or a >= n_stems or b >= n_stems:
                    continue
                if 2 * (count + 1) > len(keys):
                    keys = _grown(keys)
                if _add_code(keys, a * n_stems + b):
                    count += 1
    return keys, count


@numba.njit(nogil=True, cache=True)
def count_rows(
    field_ids: tuple[np.ndarray, ...],
    starts: np.ndarray,
    stops: np.ndarray,
    weights: np.ndarray,
    n_stems: int,
    keys: np.ndarray,
    values: np.ndarray,
    n_columns: int,
    out_indptr: np.ndarray,
    out_indices: np.ndarray,
    out_data: np.ndarray,
) -> int:
    """Field-weighted sublinear tf of documents as CSR rows with sorted columns.

    Document ``d``'s stems in field ``f`` are ``field_ids[f][starts[d, f]:stops[d, f]]``
    (see :func:`collect_pairs`). A stem id below ``n_stems`` is its own column; an adjacent
    pair of such ids whose code is in the table ``keys``/``values`` (:func:`code_table`) is
    column ``n_stems + value``; ``n_columns`` is one more than the largest column. A
    column's value is the sum over fields, in field order and in float32, of ``weights[f] *
    (1 + ln count)``. Fills ``out_indptr`` (length documents + 1) and the first entries of
    ``out_indices``/``out_data`` (room for two per id given); returns the number of entries
    written.

    Occurrences are counted in dense per-column counters (reset as they are read), so the
    only sort is of each document's distinct columns, not of all its occurrences.
    """
    n_docs, n_fields = starts.shape
    longest = 1
    widest = 1
    for d in range(n_docs):
        total = 0
        for f in range(n_fields):
            size = stops[d, f] - starts[d, f]
            longest = max(longest, size)
            total += size
        widest = max(widest, total)
    occurrences = np.zeros(n_columns, dtype=np.int32)  # per column, in the current field
    totals = np.zeros(n_columns, dtype=np.float32)  # per column, in the current document
    listed = np.zeros(n_columns, dtype=np.int32)  # per column, 1 + the last document using it
    field_columns = np.empty(2 * longest, dtype=np.int64)
    doc_columns = np.empty(2 * widest, dtype=np.int64)
    with_pairs = len(keys) > 0
    at = 0
    out_indptr[0] = 0
    for d in range(n_docs):
        m = 0
        for f in range(n_fields):
            weight = weights[f]
            if weight == 0.0:
                continue
            ids = field_ids[f]
            n = 0
            for t in range(starts[d, f], stops[d, f]):
                a = ids[t]
                if a >= 0 and a < n_stems:
                    if occurrences[a] == 0:
                        field_columns[n] = a
                        n += 1
                    occurrences[a] += 1
            if with_pairs:
                for t in range(starts[d, f], stops[d, f] - 1):
                    a = np.int64(ids[t])
                    b = np.int64(ids[t + 1])
                    if a < 0 or b < 0 or a >= n_stems or b >= n_stems:
                        continue
                    col = _look_up(keys, values, a * n_stems + b)
                    if col >= 0:
                        col += n_stems
                        if occurrences[col] == 0:
                            field_columns[n] = col
                            n += 1
                        occurrences[col] += 1
            for i in range(n):
                col = field_columns[i]
                value = (np.float32(1.0) + np.log(np.float32(occurrences[col]))) * weight
                occurrences[col] = 0
                if listed[col] != d + 1:
                    listed[col] = d + 1
                    doc_columns[m] = col
                    m += 1
                totals[col] += value
        if m > 0:
            ordered = np.sort(doc_columns[:m])
            for i in range(m):
                col = ordered[i]
                out_indices[at] = col
                out_data[at] = totals[col]
                totals[col] = 0.0
                at += 1
        out_indptr[d + 1] = at
    return at


# -- the lexicon: token hashes to stem ids, and stem ids by field --------------------------


@numba.njit(nogil=True, cache=True)
def look_up_tokens(
    hashes: np.ndarray,
    segments: np.ndarray,
    salts: np.ndarray,
    table_keys: np.ndarray,
    table_values: np.ndarray,
    bits: int,
    empty: int,
    out_keys: np.ndarray,
    out_slots: np.ndarray,
    out_values: np.ndarray,
    misses: np.ndarray,
) -> int:
    """Token ``i``'s key ``hashes[i] + salts[segments[i]]`` (its text's language salt), its
    slot (the top ``bits`` bits of the key) and the value found there, into the ``out_``
    arrays; a token whose slot holds another key or ``empty`` is a miss: its index goes to
    ``misses`` and its value is ``empty``. Returns the number of misses."""
    shift = np.uint64(64 - bits)
    n_misses = 0
    for i in range(len(hashes)):
        key = hashes[i] + salts[segments[i]]
        slot = np.int64(key >> shift)
        out_keys[i] = key
        out_slots[i] = slot
        value = table_values[slot]
        if value == empty or table_keys[slot] != key:
            misses[n_misses] = i
            n_misses += 1
            out_values[i] = empty
        else:
            out_values[i] = value
    return n_misses


@numba.njit(nogil=True, cache=True)
def split_fields(
    stem_ids: np.ndarray, variants: np.ndarray, segments: np.ndarray, n_docs: int, n_fields: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The non-negative ``stem_ids`` of texts ``segments`` (document ``s // n_fields``, field
    ``s % n_fields``) by field: (ids in document order, field after field; the tokens'
    ``variants`` in the same order; where each field starts in them; per field and
    document, how many). Negative ids (stop words) are dropped.
    """
    lengths = np.zeros((n_fields, n_docs), dtype=np.int32)
    for i in range(len(stem_ids)):
        if stem_ids[i] >= 0:
            s = segments[i]
            lengths[s % n_fields, s // n_fields] += 1
    field_starts = np.zeros(n_fields + 1, dtype=np.int64)
    for f in range(n_fields):
        field_starts[f + 1] = field_starts[f] + lengths[f].sum()
    ids = np.empty(field_starts[n_fields], dtype=np.int32)
    kept_variants = np.empty(field_starts[n_fields], dtype=np.uint8)
    cursor = field_starts[:n_fields].copy()
    for i in range(len(stem_ids)):
        if stem_ids[i] >= 0:
            f = segments[i] % n_fields
            ids[cursor[f]] = stem_ids[i]
            kept_variants[cursor[f]] = variants[i]
            cursor[f] += 1
    return ids, kept_variants, field_starts, lengths


@numba.njit(nogil=True, cache=True)
def best_variants(
    rows: np.ndarray,
    offsets: np.ndarray,
    field_ids: tuple[np.ndarray, ...],
    field_variants: tuple[np.ndarray, ...],
    want_indptr: np.ndarray,
    want_stems: np.ndarray,
    n_stems: int,
    out: np.ndarray,
) -> None:
    """Per call ``rows[j]`` and stem ``want_stems[k]`` (``k`` in ``want_indptr[j]:
    want_indptr[j + 1]``, distinct per call): the variant (surface word) its tokens of that
    stem have most often, the first seen on a tie (fields in order, tokens in order), into
    ``out[k]``; -1 where the call has no such token.

    Field ``f``'s tokens of call ``r`` are ``field_ids[f][offsets[f, r]:offsets[f, r + 1]]``
    with their variants (0-255) in ``field_variants[f]``. One pass over each call's tokens,
    with per-(wanted stem, variant) counters reset as they are read.
    """
    widest = 1
    for j in range(len(rows)):
        widest = max(widest, want_indptr[j + 1] - want_indptr[j])
    slot = np.full(n_stems, -1, dtype=np.int64)
    counts = np.zeros((widest, 256), dtype=np.int32)
    firsts = np.zeros((widest, 256), dtype=np.int64)
    n_fields = offsets.shape[0]
    for j in range(len(rows)):
        r = rows[j]
        a, b = want_indptr[j], want_indptr[j + 1]
        for k in range(a, b):
            slot[want_stems[k]] = k - a
        seen = 0
        for f in range(n_fields):
            ids = field_ids[f]
            variants = field_variants[f]
            for t in range(offsets[f, r], offsets[f, r + 1]):
                s = slot[ids[t]]
                if s >= 0:
                    v = variants[t]
                    if counts[s, v] == 0:
                        firsts[s, v] = seen
                    counts[s, v] += 1
                seen += 1
        for k in range(a, b):
            s = k - a
            best, best_count, best_first = -1, 0, 0
            for v in range(256):
                c = counts[s, v]
                if c > 0:
                    if c > best_count or (c == best_count and firsts[s, v] < best_first):
                        best, best_count, best_first = v, c, firsts[s, v]
                    counts[s, v] = 0
            out[k] = best
            slot[want_stems[k]] = -1


# -- tokenising: word tokens of UTF-8 text as 64-bit hashes ----------------------------------

WORD = 1  # classes of code points in the table the tokeniser reads; 0: not classified yet
NOT_WORD = 2
_HASH_BASE = np.uint64(0x9E3779B97F4A7C15 | 1)
_LENGTH_MIX = np.uint64(0xC2B2AE3D27D4EB4F)


@numba.njit(nogil=True, cache=True, inline="always")
def _char_at(raw: np.ndarray, i: int) -> tuple[int, int]:
    """The code point starting at byte ``i`` of UTF-8 ``raw`` and its length in bytes."""
    lead = np.int64(raw[i])
    if lead < 0x80:
        return lead, 1
    if lead < 0xE0:
        size, point = 2, lead & 0x1F
    elif lead < 0xF0:
        size, point = 3, lead & 0x0F
    else:
        size, point = 4, lead & 0x07
    for k in range(1, size):
        if i + k < len(raw):
            point = (point << 6) | (np.int64(raw[i + k]) & 0x3F)
    return point, size


# Per byte: its value as hashed (ASCII letters lower-cased) for an ASCII word byte or a
# continuation byte, 0 for an ASCII byte that is no word character, 255 for the lead byte
# of a multi-byte character (classified per code point).
_BYTE_VALUE = np.zeros(256, dtype=np.uint8)
for _b in range(256):
    if chr(_b).isascii() and chr(_b).isalnum():
        _BYTE_VALUE[_b] = ord(chr(_b).lower())
    elif 0x80 <= _b < 0xC0:
        _BYTE_VALUE[_b] = _b
    elif _b >= 0xC0:
        _BYTE_VALUE[_b] = 255
del _b


@numba.njit(nogil=True, cache=True, inline="always")
def _character(raw: np.ndarray, i: int, classes: np.ndarray) -> tuple[int, int, int]:
    """The character at byte ``i``: (value, size in bytes, code point if unclassified).

    The value is 0 for no word character, else the byte as hashed (``_BYTE_VALUE``), or 255
    for a multi-byte word character (its bytes are hashed as they are). A character whose
    class is still 0 counts as a word character and comes with its code point (else -1).
    """
    value = np.int64(_BYTE_VALUE[raw[i]])
    if value != 255:
        return value, 1, -1
    point, size = _char_at(raw, i)
    if point >= len(classes):
        return value, size, -1
    if classes[point] == NOT_WORD:
        return 0, size, -1
    if classes[point] == 0:
        return value, size, point
    return value, size, -1


@numba.njit(nogil=True, cache=True)
def count_tokens(raw: np.ndarray, classes: np.ndarray, unknown: np.ndarray) -> tuple[int, int]:
    """Tokens in UTF-8 ``raw`` as far as ``classes`` (per code point) knows its characters.

    Code points above ASCII whose class is still 0 are written to ``unknown`` (up to its
    length, repeats included) and the second number returned is how many; the caller
    classifies them and counts again. Meanwhile such a character counts as a word character.
    """
    n_tokens = 0
    n_unknown = 0
    inside = False
    i = 0
    while i < len(raw):
        value, size, unclassified = _character(raw, i, classes)
        if unclassified >= 0 and n_unknown < len(unknown):
            unknown[n_unknown] = unclassified
            n_unknown += 1
        word = value != 0
        if word and not inside:
            n_tokens += 1
        inside = word
        i += size
    return n_tokens, n_unknown


OUT_OF_ROOM = -1  # what hash_tokens returns when its arrays are too short
UNCLASSIFIED = -2  # … and when it meets a character of class 0


@numba.njit(nogil=True, cache=True)
def hash_tokens(
    raw: np.ndarray,
    classes: np.ndarray,
    hashes: np.ndarray,
    segments: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
) -> int:
    """Cut UTF-8 ``raw`` into tokens (runs of word characters, see :func:`count_tokens`).

    Per token: the polynomial hash of its bytes (ASCII lower-cased) mixed with its length,
    the number of NUL separators before it (its segment) and its byte span. Returns how many
    tokens were written, or OUT_OF_ROOM when the arrays are too short for them, or
    UNCLASSIFIED when a character's class in ``classes`` is still 0.
    """
    room = len(hashes)
    n = 0
    segment = 0
    inside = False
    h = np.uint64(0)
    power = np.uint64(1)
    i = 0
    size = len(raw)
    while i <= size:
        value, step, unclassified = np.int64(0), 1, -1
        if i < size:
            value, step, unclassified = _character(raw, i, classes)
        if unclassified >= 0:
            return UNCLASSIFIED
        if value != 0:
            if not inside:
                if n == room:
                    return OUT_OF_ROOM
                starts[n] = i
                segments[n] = segment
                h = np.uint64(0)
                power = np.uint64(1)
                inside = True
            if step == 1:
                h += np.uint64(value) * power
                power *= _HASH_BASE
            else:
                for k in range(i, min(i + step, size)):
                    h += np.uint64(raw[k]) * power
                    power *= _HASH_BASE
        else:
            if inside:
                ends[n] = i
                hashes[n] = h * _LENGTH_MIX + np.uint64(i - starts[n])
                n += 1
                inside = False
            if i < size and raw[i] == 0:
                segment += 1
        i += step
    return n


# -- call vectors: the word and n-gram blocks, written by term -------------------------------


@numba.njit(nogil=True, cache=True)
def gram_frequencies(
    indptr: np.ndarray,
    indices: np.ndarray,
    begin: int,
    end: int,
    g_indptr: np.ndarray,
    g_indices: np.ndarray,
    n_grams: int,
    n_stems: int,
) -> np.ndarray:
    """Per n-gram, in how many of the rows ``begin .. end - 1`` of a counts CSR it occurs.

    Column ``c`` of the counts has the n-grams ``g_indices[g_indptr[c]:g_indptr[c + 1]]``.
    Only the stems' columns, ``0 .. n_stems - 1``, have n-grams (the pairs' come after
    them), and each row's columns are sorted, so a row is read up to its first pair.
    """
    df = np.zeros(n_grams, dtype=np.int64)
    seen = np.full(n_grams, -1, dtype=np.int64)
    for r in range(begin, end):
        for p in range(indptr[r], indptr[r + 1]):
            c = indices[p]
            if c >= n_stems:
                break
            for q in range(g_indptr[c], g_indptr[c + 1]):
                g = g_indices[q]
                if seen[g] != r:
                    seen[g] = r
                    df[g] += 1
    return df


@numba.njit(nogil=True, cache=True)
def vectors_by_term(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    begin: int,
    end: int,
    idf: np.ndarray,
    word_scale: float,
    g_indptr: np.ndarray,
    g_indices: np.ndarray,
    g_idf: np.ndarray,
    gram_scale: float,
    n_words: int,
    n_stems: int,
    cursor: np.ndarray,
    out_indices: np.ndarray,
    out_data: np.ndarray,
) -> None:
    """The vectors of counts rows ``begin .. end - 1``, appended to a terms × calls CSR.

    Per row, as :meth:`matcher.vectorize.TextModel._vectors` computes it: the word block is
    tf × ``idf`` scaled to length ``word_scale``; the n-gram block sums each word's count
    into its n-grams (``g_*``, see :func:`gram_frequencies`), times ``g_idf``, scaled to
    length ``gram_scale``, in columns from ``n_words`` on (only the first ``n_stems`` words
    have n-grams, and they come first in every row). ``cursor[c]`` is the next free
    slot of term row ``c`` and moves on, so rows given in call order leave every term row
    sorted by call; two threads may fill disjoint row ranges with cursors set apart.
    """
    n_grams = len(g_idf)
    longest = 0
    for r in range(begin, end):
        longest = max(longest, indptr[r + 1] - indptr[r])
    values = np.empty(longest, dtype=np.float32)
    sums = np.zeros(n_grams, dtype=np.float32)
    touched = np.empty(n_grams, dtype=np.int64)
    for r in range(begin, end):
        lo = indptr[r]
        hi = indptr[r + 1]
        total = 0.0
        for p in range(lo, hi):
            v = np.float32(np.float64(data[p]) * idf[indices[p]])
            values[p - lo] = v
            total += np.float64(v) * np.float64(v)
        norm = np.sqrt(total)
        scale = np.float32(word_scale / (norm if norm > 0.0 else 1.0))
        for p in range(lo, hi):
            c = indices[p]
            at = cursor[c]
            out_indices[at] = r
            out_data[at] = values[p - lo] * scale
            cursor[c] = at + 1
        if n_grams == 0:
            continue
        m = 0
        for p in range(lo, hi):
            c = indices[p]
            if c >= n_stems:
                break
            x = data[p]
            for q in range(g_indptr[c], g_indptr[c + 1]):
                g = g_indices[q]
                if sums[g] == 0.0:
                    touched[m] = g
                    m += 1
                sums[g] += x
        total = 0.0
        for i in range(m):
            g = touched[i]
            v = np.float32(np.float64(sums[g]) * g_idf[g])
            sums[g] = v
            total += np.float64(v) * np.float64(v)
        norm = np.sqrt(total)
        scale = np.float32(gram_scale / (norm if norm > 0.0 else 1.0))
        for i in range(m):
            g = touched[i]
            c = n_words + g
            at = cursor[c]
            out_indices[at] = r
            out_data[at] = sums[g] * scale
            cursor[c] = at + 1
            sums[g] = 0.0
