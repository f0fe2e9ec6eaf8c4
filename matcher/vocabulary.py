"""The columns of the word block: fitted stems, then the stem pairs kept (as integer codes)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from matcher.kernels.counting import code_table


class Vocabulary(Mapping[str, int]):
    """Columns of the word block: fitted stems first, then kept stem bigrams ("a b").

    Bigrams are stored as sorted integer codes (``first * n_stems + second``), so a corpus
    needs no dictionary of all its bigram strings.
    """

    def __init__(self, stem_ids: dict[str, int], stems: list[str], n_stems: int) -> None:
        self._stem_ids = stem_ids
        self._stems = stems
        self.n_stems = n_stems
        self._codes = np.zeros(0, dtype=np.int64)
        self._table: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def bigram_codes(self) -> np.ndarray:
        """The kept bigrams' codes, sorted (int64)."""
        return self._codes

    @bigram_codes.setter
    def bigram_codes(self, codes: np.ndarray) -> None:
        self._codes = codes
        self._table = None

    def bigram_table(self) -> tuple[np.ndarray, np.ndarray]:
        """The hash table code → bigram number that counting reads
        (:func:`matcher.kernels.counting.code_table`)."""
        if self._table is None:
            self._table = code_table(np.asarray(self._codes, dtype=np.int64))
        return self._table

    def get(self, term: str, default: Any = None) -> Any:  # type: ignore[override]
        first, _, second = term.partition(" ")
        a = self._stem_ids.get(first)
        if a is None or a >= self.n_stems:
            return default
        if not second:
            return a
        b = self._stem_ids.get(second)
        if b is None or b >= self.n_stems:
            return default
        code = a * self.n_stems + b
        pos = int(np.searchsorted(self.bigram_codes, code))
        if pos < len(self.bigram_codes) and self.bigram_codes[pos] == code:
            return self.n_stems + pos
        return default

    def __getitem__(self, term: str) -> int:
        col = self.get(term)
        if col is None:
            raise KeyError(term)
        return col

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and self.get(term) is not None

    def __len__(self) -> int:
        return self.n_stems + len(self.bigram_codes)

    def __iter__(self) -> Iterator[str]:
        return (self.term(col) for col in range(len(self)))

    def term(self, col: int) -> str:
        """The term of a column: a stem, or two stems joined by a space."""
        if col < self.n_stems:
            return self._stems[col]
        a, b = divmod(int(self.bigram_codes[col - self.n_stems]), self.n_stems)
        return f"{self._stems[a]} {self._stems[b]}"
