"""Compiled tokenising: UTF-8 text to 64-bit token hashes, and hashes to stem ids by field.

The lexicon (:mod:`matcher.lexicon`) reads texts through these: :func:`hash_tokens` cuts the
bytes into tokens without making a string of any, :func:`look_up_tokens` maps their hashes
to stem ids through the lexicon's table, :func:`split_fields` groups a chunk's ids by field.
"""

from __future__ import annotations

import numba
import numpy as np

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
    stem_ids: np.ndarray, segments: np.ndarray, n_docs: int, n_fields: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The non-negative ``stem_ids`` of texts ``segments`` (document ``s // n_fields``, field
    ``s % n_fields``) by field: (ids in document order, field after field; where each field
    starts in them; per field and document, how many). Negative ids (stop words) are dropped.
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
    cursor = field_starts[:n_fields].copy()
    for i in range(len(stem_ids)):
        if stem_ids[i] >= 0:
            f = segments[i] % n_fields
            ids[cursor[f]] = stem_ids[i]
            cursor[f] += 1
    return ids, field_starts, lengths
