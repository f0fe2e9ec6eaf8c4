"""The German–English glossary and phrase tables built from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from matcher.analysis import Analyzer, tokenize
from matcher.glossary import GlossaryError, glossary_tables, load_glossary


def test_shipped_glossary_has_a_few_hundred_terms_and_the_core_pairs() -> None:
    entries = load_glossary()
    assert len({e.de for e in entries}) >= 300
    pairs = {(e.de, e.en) for e in entries}
    for pair in [
        ("Klimaschutz", "climate mitigation"),
        ("Städtepartnerschaft", "town twinning"),
        ("Jugendaustausch", "youth exchange"),
        ("Kreislaufwirtschaft", "circular economy"),
    ]:
        assert pair in pairs


def test_malformed_line_is_reported_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "glossary.tsv"
    path.write_text("# comment\nKlimaschutz\tclimate mitigation\nnur ein Feld\n", "utf-8")
    with pytest.raises(GlossaryError, match=r"glossary.tsv:3"):
        load_glossary(path)


def test_duplicate_pairs_are_read_once(tmp_path: Path) -> None:
    path = tmp_path / "glossary.tsv"
    path.write_text("Jugend\tyouth\njugend\tYouth\nJugend\tyoung people\n", "utf-8")
    assert [e.en for e in load_glossary(path)] == ["youth", "young people"]


def _found_sources(table, text: str, analyzer: Analyzer, language: str) -> list[tuple]:
    return [key for key, _ in table.find(analyzer.terms(tokenize(text), language))]


def test_inflected_german_phrase_is_found_with_its_english_renderings() -> None:
    analyzer = Analyzer()
    tables = glossary_tables(load_glossary(), analyzer)
    found = tables["de"].find(analyzer.terms(tokenize("unsere Städtepartnerschaften"), "de"))
    assert len(found) == 1
    renderings = found[0][1]
    assert tuple(analyzer.terms(tokenize("town twinning"), "en")) in renderings


def test_longest_phrase_wins_over_its_parts() -> None:
    analyzer = Analyzer()
    tables = glossary_tables(load_glossary(), analyzer)
    keys = _found_sources(tables["de"], "öffentliche Gesundheit stärken", analyzer, "de")
    assert keys == [tuple(analyzer.terms(tokenize("öffentliche Gesundheit"), "de"))]


def test_german_compound_finds_the_entry_it_starts_with() -> None:
    analyzer = Analyzer()
    tables = glossary_tables(load_glossary(), analyzer)
    keys = _found_sources(tables["de"], "Klimaschutzkonzept", analyzer, "de")
    assert tuple(analyzer.terms(["klimaschutz"], "de")) in keys


def test_english_phrase_finds_its_german_rendering() -> None:
    analyzer = Analyzer()
    tables = glossary_tables(load_glossary(), analyzer)
    found = tables["en"].find(analyzer.terms(tokenize("a youth exchange in summer"), "en"))
    renderings = [alt for _, alternatives in found for alt in alternatives]
    assert tuple(analyzer.terms(["jugendaustausch"], "de")) in renderings
