"""The dictd reader, on a tiny hand-written dictionary in FreeDict's layout."""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from matcher.analysis import Analyzer
from matcher.dictionary import (
    DictionaryError,
    FreeDict,
    _decode_numbers,
    decode_number,
    parse_translations,
)

DATA = Path(__file__).parent.parent / "data" / "matcher"
TINY = DATA / "tiny-deu-eng"


def _german_keys(analyzer: Analyzer):
    return lambda words: analyzer.stem_words(words, "de")


def test_decode_number_reads_dictd_base64() -> None:
    assert decode_number("A") == 0
    assert decode_number("B") == 1
    assert decode_number("BA") == 64
    with pytest.raises(DictionaryError):
        decode_number("*")


def test_numbers_decoded_at_once_equal_one_at_a_time() -> None:
    import random

    digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    rng = random.Random(5)
    texts = ["", "A", "/", "BA"] + [
        "".join(rng.choice(digits) for _ in range(rng.randint(1, 7))) for _ in range(500)
    ]

    def at_once(texts: list[str]) -> list[int]:
        fields = [text.encode("utf-8") for text in texts]
        data = np.frombuffer(b"\t".join(fields), dtype=np.uint8)
        begins = np.cumsum([0] + [len(field) + 1 for field in fields[:-1]])
        stops = begins + np.array([len(field) for field in fields], dtype=np.int64)
        return _decode_numbers(data, begins, stops).tolist()

    assert at_once(texts) == [decode_number(t) for t in texts]
    with pytest.raises(DictionaryError, match="B\\*"):
        at_once(["BA", "B*", "C"])
    with pytest.raises(DictionaryError, match="Bä"):
        at_once(["Bä"])


def test_index_lines_are_read_like_the_dictd_server_reads_them(tmp_path: Path) -> None:
    """Headwords with surrounding blanks or a trailing ellipsis count; phrases, the
    00database entries and malformed lines do not; a headword's entries keep file order."""
    shutil.copy(TINY.with_suffix(".dict.dz"), tmp_path / "odd.dict.dz")
    lines = [
        "00databaseinfo\tA\tB",
        " Verkehr \tA\tC",
        "Verkehrs…\tB\tD",
        "auf höchster Ebene\tC\tE",
        "kaputt\tD",
        "Stadt\tE\tF\tG",
        "",
    ]
    (tmp_path / "odd.index").write_text("\n".join(lines), encoding="utf-8")
    analyzer = Analyzer()
    dictionary = FreeDict(tmp_path / "odd", _german_keys(analyzer))
    (key,) = analyzer.stem_words(["Verkehr"], "de")
    assert len(dictionary) == 1
    assert dictionary._spans_of(key) == [(0, 2), (1, 3)]


def test_last_index_line_counts_without_a_line_break(tmp_path: Path) -> None:
    shutil.copy(TINY.with_suffix(".dict.dz"), tmp_path / "odd.dict.dz")
    (tmp_path / "odd.index").write_bytes("Straße\tA\tB\nGrün\tBA\t/".encode())
    analyzer = Analyzer()
    dictionary = FreeDict(tmp_path / "odd", _german_keys(analyzer))
    street, green = analyzer.stem_words(["Straße", "Grün"], "de")
    assert dictionary._spans_of(street) == [(0, 1)]
    assert dictionary._spans_of(green) == [(64, 63)]


def test_translations_skip_examples_notes_and_colloquial_senses() -> None:
    entry = (
        "Verkehr /x/ <masc, n, sg>\n [ugs.] intercourse <n>\n"
        ' [transp.] traffic <n>, transport <n>\n      "im Verkehr"  - in traffic\n'
        "   Synonym: {Straßenverkehr}\n"
    )
    assert parse_translations(entry) == ["traffic", "transport"]


def test_lookup_by_german_stem_merges_senses_most_repeated_first() -> None:
    analyzer = Analyzer()
    dictionary = FreeDict(TINY, _german_keys(analyzer))
    (key,) = analyzer.stem_words(["Verkehrs"], "de")
    assert dictionary.translations(key) == ["traffic", "transport"]


def test_inflected_headword_and_umlauts_find_the_entry() -> None:
    analyzer = Analyzer()
    dictionary = FreeDict(TINY, _german_keys(analyzer))
    keys = analyzer.stem_words(["Städtepartnerschaften", "Stadte", "unbekannt"], "de")
    found = dictionary.lookup(keys)
    assert found[keys[0]][0] == "town twinning"
    assert "city" in found[keys[1]]
    assert keys[2] not in found


def test_multi_word_headwords_are_left_to_the_glossary() -> None:
    analyzer = Analyzer()
    dictionary = FreeDict(TINY, _german_keys(analyzer))
    assert len(dictionary) == 5  # the phrase "auf höchster Ebene" is not a key


def test_plain_dict_file_reads_like_the_dictzip(tmp_path: Path) -> None:
    shutil.copy(TINY.with_name(TINY.name + ".index"), tmp_path / "plain.index")
    (tmp_path / "plain.dict").write_bytes(
        gzip.decompress(TINY.with_suffix(".dict.dz").read_bytes())
    )
    analyzer = Analyzer()
    plain = FreeDict(tmp_path / "plain", _german_keys(analyzer))
    zipped = FreeDict(TINY, _german_keys(analyzer))
    for word in ["Hochwasser", "Schutz", "Verkehr", "Stadt"]:
        (key,) = analyzer.stem_words([word], "de")
        assert plain.translations(key) == zipped.translations(key) != []


def _dictzip(data: bytes, chunk_length: int) -> bytes:
    """``data`` as a dictzip file: a gzip member of deflate chunks of ``chunk_length`` bytes,
    each one inflatable on its own, with their sizes in the header's "RA" field."""
    chunks = []
    for start in range(0, len(data), chunk_length):
        deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
        piece = deflate.compress(data[start : start + chunk_length])
        chunks.append(piece + deflate.flush(zlib.Z_FULL_FLUSH))
    field = struct.pack(f"<HHH{len(chunks)}H", 1, chunk_length, len(chunks), *map(len, chunks))
    extra = b"RA" + struct.pack("<H", len(field)) + field
    header = b"\x1f\x8b\x08\x04" + bytes(6) + struct.pack("<H", len(extra)) + extra
    return header + b"".join(chunks) + struct.pack("<II", zlib.crc32(data), len(data))


def test_a_batch_of_lookups_inflates_each_chunk_once_and_lets_go_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import matcher.dictionary as dictionary_module

    data = gzip.decompress(TINY.with_suffix(".dict.dz").read_bytes())
    shutil.copy(TINY.with_name(TINY.name + ".index"), tmp_path / "small.index")
    (tmp_path / "small.dict.dz").write_bytes(_dictzip(data, 32))  # entries span chunks
    analyzer = Analyzer()
    words = ["Städtepartnerschaft", "Verkehr", "Hochwasser", "Schutz", "Stadt"]
    keys = analyzer.stem_words(words, "de")
    expected = FreeDict(TINY, _german_keys(analyzer)).lookup(keys)
    inflated: list[int] = []
    real = zlib.decompressobj

    def counting(wbits: int) -> zlib._Decompress:
        inflated.append(wbits)
        return real(wbits)

    monkeypatch.setattr(dictionary_module.zlib, "decompressobj", counting)
    small = FreeDict(tmp_path / "small", _german_keys(analyzer))
    with small.batch():
        assert small.lookup(keys) == expected
    reader = small._data
    assert not reader._cache  # the batch's chunks are let go at its end

    def back_and_forth(first: int, second: int) -> int:
        inflated.clear()
        for offset in (first, second, first, second, first + 5):
            reader.read(offset, 10)
        return len(inflated)

    assert back_and_forth(0, 100) == 5  # no chunk kept: each read inflates
    with small.batch():
        assert back_and_forth(32, 200) == 2  # chunks 1 and 6, once each
        with small.batch():  # batches nest
            reader.read(32, 10)
        assert len(inflated) == 2
    assert not reader._cache


def test_missing_dictionary_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DictionaryError, match="no dictd dictionary"):
        FreeDict(tmp_path / "nothing", _german_keys(Analyzer()))


def test_models_in_one_process_share_the_parsed_dictionary(tmp_path: Path) -> None:
    from matcher.vectorize import TextModel

    shutil.copy(TINY.with_name(TINY.name + ".index"), tmp_path / "tiny.index")
    shutil.copy(TINY.with_name(TINY.name + ".dict.dz"), tmp_path / "tiny.dict.dz")
    first = TextModel(dictionary_path=str(tmp_path / "tiny")).expansion.load_dictionary()
    second = TextModel(dictionary_path=str(tmp_path / "tiny")).expansion.load_dictionary()
    assert first is not None and first is second
    index = tmp_path / "tiny.index"
    os.utime(index, ns=(index.stat().st_atime_ns, index.stat().st_mtime_ns + 10**9))
    third = TextModel(dictionary_path=str(tmp_path / "tiny")).expansion.load_dictionary()
    assert third is not first


def test_index_kept_in_a_cache_folder_is_read_back_without_parsing(tmp_path: Path) -> None:
    analyzer = Analyzer()
    parsed = FreeDict(TINY, _german_keys(analyzer), cache_folder=tmp_path, key_name="de")
    assert (tmp_path / "dictionary_index.npz").exists()

    def no_parse(words: list[str]) -> list[str]:
        raise AssertionError("the index was parsed again")

    loaded = FreeDict(TINY, no_parse, cache_folder=tmp_path, key_name="de")
    assert len(loaded) == len(parsed) > 0
    for key in parsed._keys:
        assert key in loaded
        assert loaded.translations(key) == parsed.translations(key)


def test_cached_index_of_another_key_function_or_a_damaged_copy_is_parsed_again(
    tmp_path: Path,
) -> None:
    analyzer = Analyzer()
    FreeDict(TINY, _german_keys(analyzer), cache_folder=tmp_path, key_name="de")
    calls: list[int] = []

    def counting(words: list[str]) -> list[str]:
        calls.append(len(words))
        return analyzer.stem_words(words, "de")

    FreeDict(TINY, counting, cache_folder=tmp_path, key_name="other")
    assert len(calls) == 1
    (tmp_path / "dictionary_index.npz").write_bytes(b"not a zip file")
    again = FreeDict(TINY, counting, cache_folder=tmp_path, key_name="other")
    assert len(calls) == 2
    (key,) = analyzer.stem_words(["Verkehrs"], "de")
    assert again.translations(key) == ["traffic", "transport"]
