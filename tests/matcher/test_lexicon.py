"""The vectorised lexicon cuts and numbers tokens exactly as the string path does."""

from __future__ import annotations

import numpy as np

from matcher.analysis import Analyzer, tokenize
from matcher.documents import Document
from matcher.lexicon import Lexicon, hash_tokens
from matcher.vectorize import TextModel

TEXTS = [
    "Städtepartnerschaften – Jugendaustausch 2021–2027: naïve café, STRASSE und Straße.",
    "",
    "Climate\u00a0mitigation; climate-neutral cities_and towns (CO2) ÆØ Łódź",
    "a\x00b",
]


def test_tokens_are_those_of_tokenize() -> None:
    tokens = hash_tokens(TEXTS)
    expected = [(i, word) for i, text in enumerate(TEXTS) for word in tokenize(text)]
    got = [(int(s), tokens.token(k)) for k, s in enumerate(tokens.segments)]
    assert got == expected


def test_equal_tokens_hash_equal_and_distinct_tokens_apart() -> None:
    tokens = hash_tokens(TEXTS)
    by_hash: dict[int, set[str]] = {}
    for k, value in enumerate(tokens.hashes.tolist()):
        by_hash.setdefault(value, set()).add(tokens.token(k).lower())
    assert all(len(words) == 1 for words in by_hash.values())
    spans = zip(tokens.starts.tolist(), tokens.ends.tolist(), strict=True)
    raw = {tokens.text[start:end].tobytes().lower() for start, end in spans}  # ASCII lower-cased
    assert len(by_hash) == len(raw)  # "straße" and "strasse" hash apart, fold alike


def test_batches_are_cut_into_the_tokenizers_tokens() -> None:
    # Empty texts, an empty batch and a text holding the separator byte among them.
    batches = [
        [TEXTS[0] * 40, *TEXTS],
        ["", "kurz", "a\x00b"],
        ["x"],
        [],
        list(reversed(TEXTS)),
    ]
    for texts in batches:
        tokens = hash_tokens(texts)
        joined = "\x00".join(t.replace("\x00", " ") for t in texts).encode("utf-8")
        assert tokens.text.tobytes() == joined
        assert [tokens.token(k) for k in range(len(tokens.hashes))] == [
            word for text in texts for word in tokenize(text)
        ]


def test_ids_match_the_stems_of_the_analyzer() -> None:
    analyzer = Analyzer()
    stem_ids: dict[str, int] = {}
    stems: list[str] = []
    lexicon = Lexicon(analyzer, stem_ids, stems)
    tokens = hash_tokens(TEXTS)
    ids = lexicon.ids(tokens, np.zeros(len(TEXTS), dtype=np.int64), ["de"])
    for k, value in enumerate(ids.tolist()):
        stem = analyzer.stem(tokens.token(k), "de")
        assert (value == -1) if stem is None else (stems[value] == stem)
    street = {int(ids[k]) for k in range(len(ids)) if tokens.token(k) == "strasse"}
    assert len(street) == 1  # "STRASSE" and "Straße": one stem id


def test_fit_guesses_the_language_of_undeclared_calls() -> None:
    german = Document(title="Förderung für Kommunen", description="Die Stadt und der Verein.")
    english = Document(title="Support for cities", description="The city and the association.")
    model = TextModel(glossary=False).fit([german, english])
    # German stemming keeps "forder" (from "Förderung"), English stemming keeps "citi".
    assert "forder" in model.vocabulary
    assert "citi" in model.vocabulary


def test_tokens_with_thousands_of_new_characters_are_those_of_tokenize() -> None:
    # More characters the tokeniser has not classified yet than it lists in one pass.
    ideographs = [chr(0x4E00 + k) for k in range(5000)]
    text = "\u2e3a".join("".join(ideographs[k : k + 3]) for k in range(0, 5000, 3))
    tokens = hash_tokens([text, "x\u2e3ay"])
    expected = [(0, word) for word in tokenize(text)] + [(1, "x"), (1, "y")]
    assert len(expected) > 1600
    got = [(int(s), tokens.token(k)) for k, s in enumerate(tokens.segments)]
    assert got == expected


def test_texts_denser_than_the_first_guess_of_room_are_cut_in_full() -> None:
    dense = "a b,c;" * 2000  # a token per two bytes; the first try has room for one per four
    tokens = hash_tokens([dense])
    assert [tokens.token(k) for k in range(len(tokens.hashes))] == tokenize(dense)
