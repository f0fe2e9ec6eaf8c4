"""Reader for a dictd-format bilingual dictionary (Debian's ``dict-freedict-deu-eng``).

The FreeDict German–English dictionary (the TU Chemnitz "Ding" data, GPL/AGPL) is installed
by the Debian package as ``<prefix>.index`` and ``<prefix>.dict.dz``; the prefix comes from
``Settings.freedict_path``. It is read where it is installed and never copied into the
repository; the matcher works without it (the glossary alone bridges the languages then).

The ``.index`` file has one line per headword: ``headword<TAB>offset<TAB>length`` with offset
and length in dictd's base64 digits. ``.dict.dz`` is gzip with dictzip's random-access
extension (a table of independently compressed chunks), so one entry is read by inflating
one or two chunks instead of the whole 100 MB text. A plain ``.dict`` file works too.
"""

from __future__ import annotations

import contextlib
import re
import struct
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from matcher.archive import read_archive, write_archive

_B64 = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
}

_INDEX_FORMAT = 1
INDEX_FILE = "dictionary_index.npz"  # the parsed index, kept in a cache folder

# Senses marked with these usage labels rarely belong in a funding call.
_SKIP_LABELS = re.compile(
    r"\[(?:ugs|coll|vulg|slang|humor|hist|relig|obs|archaic|poet|pej|dated|Br|Am|Sc|Austr|Ös|Schw)\.?\]"
)
_LABEL = re.compile(r"\[[^\]]*\]")
_TAG = re.compile(r"<[^>]*>")
_PARENS = re.compile(r"\([^)]*\)|\{[^}]*\}")
_NOT_TRANSLATION = ('"', "see:", "Synonym", "Note:", "Usage:", "Example", "Antonym")


class DictionaryError(OSError):
    """A dictionary file that is missing or cannot be read."""


def decode_number(text: str) -> int:
    """A dictd index number (base64 digits, most significant first)."""
    value = 0
    for char in text:
        try:
            value = value * 64 + _B64[char]
        except KeyError:
            raise DictionaryError(f"not a dictd number: {text!r}") from None
    return value


_DIGITS = np.full(256, -1, dtype=np.int64)  # byte → base64 digit, -1 for any other byte
for _value, _char in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"):
    _DIGITS[ord(_char)] = _value


def _decode_numbers(data: np.ndarray, begins: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """:func:`decode_number` of the numbers ``data[begins[i]:stops[i]]`` (bytes) at once, as
    int64; the same error for a bad one."""
    values = np.zeros(len(begins), dtype=np.int64)
    width = int((stops - begins).max(initial=0))
    for k in range(width):
        at = begins + k
        present = at < stops
        digits = _DIGITS[data[np.where(present, at, 0)]]
        bad = present & (digits < 0)
        if bad.any():
            i = int(np.argmax(bad))
            decode_number(data[begins[i] : stops[i]].tobytes().decode("utf-8", "replace"))
        values = np.where(present, values * 64 + digits, values)
    return values


def _index_lines(
    raw: bytes,
) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray, np.ndarray]:
    """The lines of a dictd index that have exactly three fields (two tabs): the index as
    bytes, and per line its headword as text and the positions of its two tabs and its end.

    Half a million lines: the line breaks and tabs are found by numpy, and the headwords are
    cut out of the bytes in one piece and split, so no Python object is made per field.
    """
    data = np.frombuffer(raw + b"\n", dtype=np.uint8)
    ends = np.flatnonzero(data == 10)
    starts = np.concatenate([np.zeros(1, dtype=ends.dtype), ends[:-1] + 1])
    tabs = np.flatnonzero(data == 9)
    first = np.searchsorted(tabs, starts)
    whole = np.searchsorted(tabs, ends) - first == 2
    starts, ends, first = starts[whole], ends[whole], first[whole]
    tab1, tab2 = tabs[first], tabs[first + 1]
    # The bytes of each headword (from the line's start to its first tab) and the line
    # break after it, so that the kept bytes are the headwords one per line.
    edges = np.zeros(len(data) + 1, dtype=np.int8)
    named = starts < tab1
    edges[starts[named]] = 1
    edges[tab1[named]] = -1
    kept = np.cumsum(edges[:-1], dtype=np.int8).view(bool)
    kept[ends] = True
    heads = data[kept].tobytes().decode("utf-8", errors="replace").split("\n")[:-1]
    return data, heads, tab1, tab2, ends


class _DictzipReader:
    """Random access to a dictzip (``.dict.dz``) file, or plain reads of a ``.dict`` file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data = path.read_bytes()
        self._chunk_length = 0
        self._chunk_offsets: list[int] = []
        self._cache: dict[int, bytes] = {}
        self._holds = 0  # open holding() contexts: inflated chunks are kept while > 0
        self._lock = threading.Lock()
        if path.suffix == ".dz":
            self._parse_header()

    def _parse_header(self) -> None:
        data = self._data
        if data[:2] != b"\x1f\x8b" or data[2] != 8:
            raise DictionaryError(f"{self.path}: not a gzip file")
        flags = data[3]
        pos = 10
        if not flags & 0x04:
            raise DictionaryError(f"{self.path}: gzip without dictzip chunk table")
        (xlen,) = struct.unpack_from("<H", data, pos)
        extra = data[pos + 2 : pos + 2 + xlen]
        pos += 2 + xlen
        sizes: list[int] = []
        i = 0
        while i + 4 <= len(extra):
            sub_id = extra[i : i + 2]
            (sub_len,) = struct.unpack_from("<H", extra, i + 2)
            if sub_id == b"RA":
                _ver, self._chunk_length, count = struct.unpack_from("<HHH", extra, i + 4)
                sizes = list(struct.unpack_from(f"<{count}H", extra, i + 10))
            i += 4 + sub_len
        if not sizes:
            raise DictionaryError(f"{self.path}: gzip without dictzip chunk table")
        if flags & 0x08:  # file name, zero-terminated
            pos = data.index(b"\x00", pos) + 1
        if flags & 0x10:  # comment, zero-terminated
            pos = data.index(b"\x00", pos) + 1
        if flags & 0x02:  # header CRC
            pos += 2
        offsets = [pos]
        for size in sizes:
            offsets.append(offsets[-1] + size)
        self._chunk_offsets = offsets

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Keep every chunk inflated meanwhile, and none after.

        A batch of lookups (a re-match's profiles) reads entries all over the file and often
        the same chunk again; held, each is inflated once.
        """
        with self._lock:
            self._holds += 1
        try:
            yield
        finally:
            with self._lock:
                self._holds -= 1
                if not self._holds:
                    self._cache.clear()

    def _chunk(self, number: int) -> bytes:
        cached = self._cache.get(number)
        if cached is None:
            start, end = self._chunk_offsets[number], self._chunk_offsets[number + 1]
            cached = zlib.decompressobj(-15).decompress(memoryview(self._data)[start:end])
            if self._holds:
                self._cache[number] = cached
        return cached

    def read(self, offset: int, length: int) -> bytes:
        if not self._chunk_offsets:
            return self._data[offset : offset + length]
        first = offset // self._chunk_length
        last = (offset + length - 1) // self._chunk_length
        if last >= len(self._chunk_offsets) - 1:
            raise DictionaryError(f"{self.path}: entry beyond the end of the data")
        joined = b"".join(self._chunk(n) for n in range(first, last + 1))
        start = offset - first * self._chunk_length
        return joined[start : start + length]


def parse_translations(entry: str) -> list[str]:
    """The target-language renderings in one dictd entry, in order, without labels and tags.

    The first line is the headword; then come translation lines until examples ("…" - …),
    cross references (see:), synonyms and notes. Senses with colloquial, historical or
    religious labels are skipped.
    """
    out: list[str] = []
    for line in entry.splitlines()[1:]:
        stripped = line.strip()
        if not stripped or stripped.startswith(_NOT_TRANSLATION):
            continue
        if _SKIP_LABELS.search(stripped):
            continue
        cleaned = _PARENS.sub(" ", _TAG.sub(" ", _LABEL.sub(" ", stripped)))
        for part in re.split(r"[,;]", cleaned):
            words = part.replace("sth.", " ").replace("sb.", " ").split()
            if words and len(words) <= 3:
                phrase = " ".join(words)
                if phrase not in out:
                    out.append(phrase)
    return out


class FreeDict:
    """Lookup of single-word headwords by a normalised key (e.g. folded German stem).

    ``key`` turns a headword into the lookup key; the index is read once, at construction,
    keeping only one-word headwords (phrases are the glossary's job).
    """

    def __init__(
        self,
        path_prefix: str | Path,
        key: Callable[[list[str]], list[str]],
        *,
        cache_folder: str | Path | None = None,
        key_name: str = "",
    ) -> None:
        prefix = Path(path_prefix)
        index_path = prefix.with_name(prefix.name + ".index")
        data_path = prefix.with_name(prefix.name + ".dict.dz")
        if not data_path.exists():
            data_path = prefix.with_name(prefix.name + ".dict")
        if not index_path.exists() or not data_path.exists():
            raise DictionaryError(f"no dictd dictionary at {prefix} (.index and .dict[.dz])")
        self._data = _DictzipReader(data_path)
        stat = index_path.stat()
        # The parsed index depends on the index file and on the key function (named by
        # ``key_name``); a copy of it in ``cache_folder`` spares a new process the parse.
        stamp = f"{_INDEX_FORMAT}\t{index_path.resolve()}\t{stat.st_size}\t{stat.st_mtime_ns}"
        stamp += f"\t{key_name}"
        cache = Path(cache_folder) / INDEX_FILE if cache_folder is not None else None
        if cache is not None and self._load_index(cache, stamp):
            return
        keys, spans = self._parse_index(index_path, key)
        self._set_index(keys, spans)
        if cache is not None:
            self._save_index(cache, stamp)

    @staticmethod
    def _parse_index(
        index_path: Path, key: Callable[[list[str]], list[str]]
    ) -> tuple[list[str], np.ndarray]:
        """One-word headwords' keys and their (offset, length) spans, in file order.

        Half a million lines: the fields are cut (:func:`_index_lines`) and the numbers
        decoded by numpy, so the only per-line Python is the headword test.
        """
        data, heads, tab1, tab2, ends = _index_lines(index_path.read_bytes())
        cleaned = [head.strip().rstrip("…").strip() for head in heads]
        keep = np.array(
            [
                i
                for i, head in enumerate(cleaned)
                if head and " " not in head and not head.startswith("00database")
            ],
            dtype=np.int64,
        )
        if not len(keep):
            return [], np.zeros((0, 2), dtype=np.int64)
        offsets = _decode_numbers(data, tab1[keep] + 1, tab2[keep])
        lengths = _decode_numbers(data, tab2[keep] + 1, ends[keep])
        return key([cleaned[i] for i in keep]), np.stack([offsets, lengths], axis=1)

    def _set_index(self, keys: list[str], spans: np.ndarray) -> None:
        # Keys numbered in order of first appearance; a stable sort groups each key's spans
        # in file order.
        numbers: dict[str, int] = {}
        codes = np.fromiter(
            (numbers.setdefault(k, len(numbers)) if k else -1 for k in keys),
            dtype=np.int64,
            count=len(keys),
        )
        used = codes >= 0
        codes = codes[used]
        order = np.argsort(codes, kind="stable")
        self._keys = list(numbers)
        self._index = numbers
        self._starts = np.zeros(len(numbers) + 1, dtype=np.int64)
        np.cumsum(np.bincount(codes, minlength=len(numbers)), out=self._starts[1:])
        self._spans = np.ascontiguousarray(spans[used][order], dtype=np.int64).reshape(-1, 2)

    def _load_index(self, cache: Path, stamp: str) -> bool:
        found = read_archive(cache, stamp)  # a missing or damaged copy costs one parse
        if found is None:
            return False
        _, data = found
        try:
            keys = bytes(data["keys"]).decode("utf-8").split("\n")
            starts, spans = data["starts"], data["spans"]
        except (KeyError, UnicodeDecodeError):
            return False
        if len(starts) != len(keys) + 1 or spans.shape != (int(starts[-1]), 2):
            return False
        self._keys, self._starts, self._spans = keys, starts, spans
        self._index = {k: i for i, k in enumerate(keys)}
        return True

    def _save_index(self, cache: Path, stamp: str) -> None:
        keys = np.frombuffer("\n".join(self._keys).encode("utf-8"), dtype=np.uint8)
        arrays = {"keys": keys, "starts": self._starts, "spans": self._spans}
        write_archive(cache, {"signature": stamp}, arrays)

    def __contains__(self, key: str) -> bool:
        return key in self._index

    def __len__(self) -> int:
        return len(self._keys)

    def _spans_of(self, key: str) -> list[tuple[int, int]]:
        i = self._index.get(key)
        if i is None:
            return []
        return [(int(o), int(n)) for o, n in self._spans[self._starts[i] : self._starts[i + 1]]]

    def batch(self) -> contextlib.AbstractContextManager[None]:
        """A context for many lookups: the data file's chunks are inflated once each in it
        (1,200 chunks, 70 MB, for the 1,000 profiles of the bench), and let go at its end."""
        return self._data.holding()

    def translations(self, key: str) -> list[str]:
        """Renderings of every entry under ``key``, most repeated first, then in order."""
        counts: dict[str, int] = {}
        for offset, length in self._spans_of(key):
            raw = self._data.read(offset, length).decode("utf-8", errors="replace")
            for phrase in parse_translations(raw):
                counts[phrase] = counts.get(phrase, 0) + 1
        return sorted(counts, key=lambda p: -counts[p])  # stable: entry order breaks ties

    def lookup(self, keys: Iterable[str]) -> dict[str, list[str]]:
        """Renderings for each of ``keys`` found in the dictionary."""
        return {k: self.translations(k) for k in keys if k in self._index}
