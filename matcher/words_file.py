"""The words file of the matcher cache: each listed call's own words for its explaining terms.

Entries are keyed by (call id, content hash), so a call whose text changed is read again.
The file is bounded, and a re-match of a few profiles keeps the words of the calls that
other profiles' matches listed, up to that bound.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from matcher.archive import read_archive, write_archive

log = logging.getLogger(__name__)

_WORDS_KEEP = 100_000  # calls whose explaining words are kept

# Per (call id, content hash): the call's word for each term it was asked for.
KeptWords = dict[tuple[int, bytes], dict[str, str]]


class WordsFile:
    """``words.npz`` in the cache folder, valid for one analysis signature."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, signature: str) -> KeptWords:
        """The words kept under ``signature``; none if the file is missing or unreadable."""
        found = read_archive(self.path, signature)
        if found is None:
            return {}
        meta, data = found
        try:
            return {
                (int(cid), bytes(digest)): dict(zip(pairs[::2], pairs[1::2], strict=True))
                for cid, digest, pairs in zip(
                    data["call_ids"].tolist(), data["hashes"].tolist(), meta["words"], strict=True
                )
            }
        except (KeyError, ValueError, TypeError) as exc:
            log.warning("ignoring unreadable words cache %s: %s", self.path, exc)
            return {}

    def save(
        self,
        signature: str,
        call_ids: Sequence[int],
        hashes: Sequence[bytes],
        words: Sequence[dict[str, str]],
        kept: KeptWords,
    ) -> None:
        """Keep these calls' words, and of the calls ``kept`` before and not asked for this
        time as many as the bound leaves room for."""
        asked = set(call_ids)
        others = [key for key in kept if key[0] not in asked][: max(0, _WORDS_KEEP - len(words))]
        every = [*words, *(kept[key] for key in others)]
        meta = {
            "signature": signature,
            "words": [[x for pair in found.items() for x in pair] for found in every],
        }
        arrays = {
            "call_ids": np.asarray([*call_ids, *(cid for cid, _ in others)], dtype=np.int64),
            "hashes": np.array([*hashes, *(digest for _, digest in others)], dtype="S16"),
        }
        write_archive(self.path, meta, arrays)
