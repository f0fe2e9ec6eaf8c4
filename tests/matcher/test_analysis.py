"""Text analysis: folding, tokens, stop words, stemming, language guess."""

from __future__ import annotations

from matcher.analysis import Analyzer, detect_language, fold, tokenize


def test_fold_removes_umlauts_sharp_s_and_accents() -> None:
    assert fold("Städte Straße Größe Café Øresund") == "stadte strasse grosse cafe oresund"


def test_tokenize_splits_hyphens_and_punctuation() -> None:
    assert tokenize("Klima-Anpassung, Jugend/Kultur (EU).") == [
        "klima",
        "anpassung",
        "jugend",
        "kultur",
        "eu",
    ]


def test_german_inflections_and_umlaut_spellings_share_a_stem() -> None:
    analyzer = Analyzer()
    forms = ["Städtepartnerschaft", "Städtepartnerschaften", "Stadtepartnerschaften"]
    stems = {tuple(analyzer.analyze(word, "de")) for word in forms}
    assert len(stems) == 1


def test_english_plurals_share_a_stem_with_the_singular() -> None:
    analyzer = Analyzer()
    assert analyzer.analyze("cities", "en") == analyzer.analyze("city", "en")
    assert analyzer.analyze("exchanges", "en") == analyzer.analyze("exchange", "en")


def test_stop_words_are_dropped_in_each_language() -> None:
    analyzer = Analyzer()
    assert analyzer.analyze("die Förderung der Jugend und der Kultur", "de") == [
        analyzer.analyze("Förderung", "de")[0],
        analyzer.analyze("Jugend", "de")[0],
        analyzer.analyze("Kultur", "de")[0],
    ]
    assert len(analyzer.analyze("the youth of the city", "en")) == 2


def test_proposal_boilerplate_is_dropped() -> None:
    analyzer = Analyzer()
    assert analyzer.analyze("The project aims to", "en") == []
    assert Analyzer(proposal_words=False).analyze("The project aims to", "en") != []


def test_language_is_guessed_from_function_words() -> None:
    assert detect_language(tokenize("Die Stadt und der Verein fördern die Jugend")) == "de"
    assert detect_language(tokenize("The city and the association support the youth")) == "en"
    assert detect_language(tokenize("Hannover 2026")) == ""


def test_declared_language_wins_over_the_guess() -> None:
    analyzer = Analyzer()
    tokens = tokenize("the and the of")
    assert analyzer.language_of(tokens, "de") == "de"
    assert analyzer.language_of(tokens, "") == "en"


def test_surface_word_is_readable() -> None:
    analyzer = Analyzer()
    (stem,) = analyzer.analyze("twinning", "en")
    assert analyzer.surface(stem) == "twinning"


def test_stem_words_of_many_words_equal_stems_one_at_a_time() -> None:
    analyzer = Analyzer()
    words = ["Städtepartnerschaften", "Stadt", "und", "Öl", "Stadt", "", "Ökologie\nneu", "a"]
    one_by_one = [analyzer.stem_words([word], "de")[0] for word in words]
    assert analyzer.stem_words(words, "de") == one_by_one
    assert one_by_one[2] == one_by_one[5] == one_by_one[7] == ""  # stop word, empty, short
    assert analyzer.stem_words([], "de") == []
