"""The lexicon: folded tokens of many texts to stem ids at once, without a string per token.

Splitting a large corpus with a regular expression and looking every token up in a
dictionary costs a Python object and a hash per token. Here the UTF-8 bytes of a batch of
texts are copied into one array (joined by a separator byte) and cut into tokens where word
and non-word characters meet by one compiled pass (:mod:`matcher.kernels.tokens`), which
reduces each token to a 64-bit polynomial hash of its bytes without making a string of it.
Hashes go through a direct-address table to stem ids; only a token the lexicon has never
seen becomes a Python string, is stemmed (by :class:`matcher.analysis.Analyzer`, with its
stop words) and enters the table. So the cost in Python is per distinct token, not per occurrence.

Tokens are exactly those of :func:`matcher.analysis.tokenize` (runs of letters and digits of
the folded text); two distinct tokens could share a hash in principle, which a 64-bit hash
makes negligible for any corpus of calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matcher.analysis import Analyzer, fold
from matcher.kernels import tokens as token_kernels

_TABLE_BITS = 22  # 4M slots: the frequent tokens of any corpus fit without collisions
_EMPTY = -3
_LANGUAGE_SALT = {"de": 0x1F83D9AB, "en": 0x5BE0CD19, "": 0x6A09E667}
_SEPARATOR = "\x00"


@dataclass
class Tokens:
    """The tokens of a batch of texts: hash, text index, and span in the folded string."""

    text: np.ndarray  # uint8: the texts in UTF-8, joined by a separator
    hashes: np.ndarray  # uint64, one per token
    segments: np.ndarray  # int64, index of the text each token comes from
    starts: np.ndarray
    ends: np.ndarray

    def token(self, i: int) -> str:
        """The folded string of token ``i``."""
        word = self.text[int(self.starts[i]) : int(self.ends[i])].tobytes()
        return fold(word.decode("utf-8", "replace"))


# Per Unicode code point: word character or not, as far as classified (see token_kernels.WORD).
_CLASSES = np.zeros(0x110000, dtype=np.uint8)


def _is_word_char(char: str) -> bool:
    """Whether ``char`` belongs to a token once folded (a lone accent joins its letters)."""
    folded = fold(char)
    return not folded or any(c.isalnum() for c in folded)


def _classify_all(raw: np.ndarray) -> None:
    """Classify every character of UTF-8 ``raw`` not classified yet."""
    unknown = np.empty(4096, dtype=np.int64)
    while True:
        n_unknown = token_kernels.count_tokens(raw, _CLASSES, unknown)[1]
        if not n_unknown:
            return
        for point in np.unique(unknown[:n_unknown]).tolist():
            _CLASSES[point] = (
                token_kernels.WORD if _is_word_char(chr(point)) else token_kernels.NOT_WORD
            )


def _utf8(texts: list[str]) -> np.ndarray:
    """``texts`` in UTF-8, joined by the separator (uint8)."""
    clean = [t.replace(_SEPARATOR, " ") if _SEPARATOR in t else t for t in texts]
    return np.frombuffer(_SEPARATOR.join(clean).encode("utf-8"), dtype=np.uint8)


def hash_tokens(texts: list[str]) -> Tokens:
    """Cut ``texts`` into tokens, each as a hash of its bytes (see :class:`Tokens`).

    One compiled pass over the UTF-8 bytes (:func:`matcher.kernels.tokens.hash_tokens`);
    ASCII is lower-cased as it is hashed, the rare non-ASCII characters are hashed as they
    are (a token with "Ä" and one with "ä" hash apart but fold, and so stem, alike). Token
    boundaries are those of :func:`matcher.analysis.tokenize`: a non-ASCII character is
    classified once per process, in Python, the first time a text uses it.
    """
    points = _utf8(texts)
    # Room for a token per four bytes: real text has one per six or seven.
    room = len(points) // 4 + 16
    while True:
        hashes = np.empty(room, dtype=np.uint64)
        segments = np.empty(room, dtype=np.int64)
        starts = np.empty(room, dtype=np.int64)
        ends = np.empty(room, dtype=np.int64)
        n = token_kernels.hash_tokens(points, _CLASSES, hashes, segments, starts, ends)
        if n >= 0:
            break
        if n == token_kernels.UNCLASSIFIED:
            _classify_all(points)
        else:
            room = token_kernels.count_tokens(points, _CLASSES, np.empty(0, dtype=np.int64))[0]
    return Tokens(points, hashes[:n], segments[:n], starts[:n], ends[:n])


class Lexicon:
    """Token hashes per language → stem ids, with a shared stem table.

    ``stem_ids``/``stems`` are the caller's (the text model's) stem numbering: a new stem gets
    the next id. A stop word or noise token maps to -1.
    """

    def __init__(self, analyzer: Analyzer, stem_ids: dict[str, int], stems: list[str]) -> None:
        self.analyzer = analyzer
        self.stem_ids = stem_ids
        self.stems = stems
        self._keys = np.zeros(1 << _TABLE_BITS, dtype=np.uint64)
        self._values = np.full(1 << _TABLE_BITS, _EMPTY, dtype=np.int32)
        self._overflow: dict[int, int] = {}

    def _stem_id(self, token: str, language: str) -> int:
        stem = self.analyzer.stem(token, language)
        if stem is None:
            return -1
        value = self.stem_ids.get(stem)
        if value is None:
            value = self.stem_ids[stem] = len(self.stems)
            self.stems.append(stem)
        return value

    def ids(self, tokens: Tokens, languages: np.ndarray, names: list[str]) -> np.ndarray:
        """Stem id (or -1) of every token; ``languages`` indexes ``names`` per text."""
        salts = np.array([_LANGUAGE_SALT[name] for name in names], dtype=np.uint64)
        n = len(tokens.hashes)
        keys = np.empty(n, dtype=np.uint64)
        slots = np.empty(n, dtype=np.int64)
        values = np.empty(n, dtype=np.int32)
        miss = np.empty(n, dtype=np.int64)
        n_miss = token_kernels.look_up_tokens(
            tokens.hashes,
            tokens.segments,
            salts[np.asarray(languages, dtype=np.int64)],
            self._keys,
            self._values,
            _TABLE_BITS,
            _EMPTY,
            keys,
            slots,
            values,
            miss,
        )
        if not n_miss:
            return values
        miss = miss[:n_miss]
        distinct, first, inverse = np.unique(keys[miss], return_index=True, return_inverse=True)
        found = np.empty(len(distinct), dtype=np.int32)
        for j, key in enumerate(distinct.tolist()):
            value = self._overflow.get(key)
            if value is None:
                i = int(miss[first[j]])
                language = names[int(languages[int(tokens.segments[i])])]
                value = self._stem_id(tokens.token(i), language)
                slot = int(slots[i])
                if self._values[slot] == _EMPTY:
                    self._values[slot] = value
                    self._keys[slot] = key
                else:
                    self._overflow[key] = value
            found[j] = value
        values[miss] = found[inverse]
        return values
