"""The texts the matcher reads: a call or a profile as fields, and the hash of what it reads."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np

FIELDS = ("title", "summary", "description", "keywords")


@dataclass(frozen=True)
class Document:
    """The text of a call or of a profile, by field."""

    title: str = ""
    summary: str = ""
    description: str = ""
    keywords: str = ""  # space or comma separated
    language: str = ""  # "de", "en" or "" (unknown: guessed from the text)


def content_hash(doc: Document) -> bytes:
    """16-byte hash of the fields the matcher reads (title, summary, …, declared language)."""
    digest = hashlib.blake2b(digest_size=16)
    for name in (*FIELDS, "language"):
        digest.update(getattr(doc, name).encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.digest()


class _Picked(Sequence[Document]):
    """The documents of ``docs`` at ``rows``, read only when asked for.

    The caller's corpus may build its documents on demand (the bench does, and a chunked
    reader could); a list of the calls to analyse would hold every text at once, where the
    analysis reads them a chunk at a time.
    """

    def __init__(self, docs: Sequence[Document], rows: np.ndarray) -> None:
        self._docs = docs
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> Document: ...

    @overload
    def __getitem__(self, index: slice) -> list[Document]: ...

    def __getitem__(self, index: int | slice) -> Document | list[Document]:
        if isinstance(index, slice):
            return [self._docs[i] for i in self._rows[index].tolist()]
        return self._docs[int(self._rows[index])]


def pick_documents(docs: Sequence[Document], rows: np.ndarray) -> Sequence[Document]:
    """``docs`` at ``rows`` without copying the corpus (``docs`` itself when all, in order)."""
    if len(rows) == len(docs) and np.array_equal(rows, np.arange(len(docs))):
        return docs
    return _Picked(docs, rows)
