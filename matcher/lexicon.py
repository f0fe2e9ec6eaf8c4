"""The lexicon: folded tokens of many texts to stem ids at once, without a string per token.

A corpus of 50,000 calls holds some 45 million tokens. Splitting it with a regular expression
and looking every token up in a dictionary costs a Python object and a hash per token, which
is most of the time of a re-match. Here a batch of texts is folded as one string, viewed as an
array of code points, cut into tokens where word and non-word characters meet, and each token
is reduced to a 64-bit polynomial hash, all with numpy. Hashes go through a direct-address
table to stem ids; only a token the lexicon has never seen becomes a Python string, is stemmed
(by :class:`matcher.analysis.Analyzer`, with its stop words) and enters the table. So the cost
in Python is per distinct token, not per occurrence.

Tokens are exactly those of :func:`matcher.analysis.tokenize` (runs of letters and digits of
the folded text); a hash collision between two distinct tokens of a corpus is possible in
principle but has a probability of about 10^-8 for a million distinct tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matcher.analysis import Analyzer, fold

_BASE = np.uint64(0x9E3779B97F4A7C15 | 1)  # odd, so it has an inverse modulo 2**64
_LENGTH_MIX = np.uint64(0xC2B2AE3D27D4EB4F)
_TABLE_BITS = 22  # 4M slots: the frequent tokens of any corpus fit without collisions
_EMPTY = -3
_LANGUAGE_SALT = {"de": 0x1F83D9AB, "en": 0x5BE0CD19, "": 0x6A09E667}
_SEPARATOR = "\x00"


@dataclass
class Tokens:
    """The tokens of a batch of texts: hash, text index, and span in the folded string."""

    text: bytes  # the texts joined by a separator, UTF-8, ASCII lower-cased
    hashes: np.ndarray  # uint64, one per token
    segments: np.ndarray  # int64, index of the text each token comes from
    starts: np.ndarray
    ends: np.ndarray

    def token(self, i: int) -> str:
        """The folded string of token ``i``."""
        return fold(self.text[int(self.starts[i]) : int(self.ends[i])].decode("utf-8", "replace"))


def _powers(n: int) -> np.ndarray:
    """``_BASE ** k`` modulo 2**64 for k < n."""
    with np.errstate(over="ignore"):
        up = np.full(n, _BASE, dtype=np.uint64)
        up[0] = 1
        return np.cumprod(up, dtype=np.uint64)


# ASCII letters and digits are word bytes; non-ASCII characters are decided one by one.
_WORD_BYTE = np.array([chr(c).isalnum() for c in range(128)] + [True] * 128, dtype=bool)


def _is_word_char(char: str) -> bool:
    """Whether ``char`` belongs to a token once folded (a lone accent joins its letters)."""
    folded = fold(char)
    return not folded or any(c.isalnum() for c in folded)


def hash_tokens(texts: list[str]) -> Tokens:
    """Cut ``texts`` into tokens, each as a hash of its bytes (see :class:`Tokens`).

    ASCII is lower-cased in bulk; the rare non-ASCII characters are left as they are (a token
    with "Ä" and one with "ä" hash apart but fold, and so stem, alike). Token boundaries are
    those of :func:`matcher.analysis.tokenize`.
    """
    joined = _SEPARATOR.join(t.replace(_SEPARATOR, " ") if _SEPARATOR in t else t for t in texts)
    raw = joined.encode("utf-8").lower()
    points = np.frombuffer(raw, dtype=np.uint8)
    word = _WORD_BYTE[points]
    leads = np.flatnonzero(points >= 0xC0)
    if len(leads):
        # Punctuation such as dashes, quotes and no-break spaces separates tokens.
        decided: dict[bytes, bool] = {}
        for lead in leads.tolist():
            size = 2 if raw[lead] < 0xE0 else 3 if raw[lead] < 0xF0 else 4
            char = raw[lead : lead + size]
            is_word = decided.get(char)
            if is_word is None:
                is_word = decided[char] = _is_word_char(char.decode("utf-8", "replace"))
            if not is_word:
                word[lead : lead + size] = False
    edges = np.diff(word.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    separators = np.flatnonzero(points == 0)
    segments = np.searchsorted(separators, starts)
    hashes = np.zeros(len(starts), dtype=np.uint64)
    if len(starts):
        # Each token's bytes times powers of the base by their offset in the token, summed
        # per token: only arrays as long as the text's word bytes, no per-token Python.
        lengths = ends - starts
        first = np.zeros(len(starts), dtype=np.int64)
        np.cumsum(lengths[:-1], out=first[1:])
        offsets = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(first, lengths)
        positions = offsets + np.repeat(starts, lengths)
        with np.errstate(over="ignore"):
            terms = points[positions].astype(np.uint64) * _powers(int(lengths.max()))[offsets]
            hashes = np.add.reduceat(terms, first)
            hashes = hashes * _LENGTH_MIX + lengths.astype(np.uint64)
    return Tokens(raw, hashes, segments, starts, ends)


def hash_words(words: list[str]) -> np.ndarray:
    """Hashes of single folded words, comparable with :func:`hash_tokens`."""
    return hash_tokens([" ".join(words)]).hashes


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
        """Stem id (or -1) of every token; ``languages`` indexes ``names`` per token."""
        salts = np.array([_LANGUAGE_SALT[name] for name in names], dtype=np.uint64)
        with np.errstate(over="ignore"):
            keys = tokens.hashes + salts[languages]
        slots = (keys >> np.uint64(64 - _TABLE_BITS)).astype(np.int64)
        values = self._values[slots]
        miss = np.flatnonzero((values == _EMPTY) | (self._keys[slots] != keys))
        if len(miss):
            distinct, first, inverse = np.unique(keys[miss], return_index=True, return_inverse=True)
            found = np.empty(len(distinct), dtype=np.int32)
            for j, key in enumerate(distinct.tolist()):
                value = self._overflow.get(key)
                if value is None:
                    i = int(miss[first[j]])
                    value = self._stem_id(tokens.token(i), names[int(languages[i])])
                    slot = int(slots[i])
                    if self._values[slot] == _EMPTY:
                        self._values[slot] = value
                        self._keys[slot] = key
                    else:
                        self._overflow[key] = value
                found[j] = value
            values[miss] = found[inverse]
        return values
