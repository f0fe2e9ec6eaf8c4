"""Text analysis shared by matching and search: German and English.

Folding (lower case, umlauts and ß, accents), tokenising, cheap language detection, stop
words for both languages and Snowball stemming with a cache per unique token, so that a large
corpus costs one stemmer call per distinct word, not per occurrence.

Terms are language-neutral strings: a German stem and an English stem share one vocabulary,
which is what lets a glossary or a dictionary carry a German query into English calls.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import Stemmer
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

# Umlauts are folded to the bare vowel because the German Snowball stemmer does the same at
# its end: "Städte", "Stadte" and "Stadt" all become "stadt", whichever spelling came in.
# Plain str.replace is much faster than str.translate with a table; German letters first.
_FOLDS = (("ä", "a"), ("ö", "o"), ("ü", "u"), ("ß", "ss"), ("ø", "o"), ("æ", "ae"), ("œ", "oe"))
_TOKEN = re.compile(r"[^\W_]+")
_NEEDS_ASCII = re.compile(r"[^\x00-\x7fäöüß]")

_STOP_WORDS_FILE = Path(__file__).parent / "data" / "stopwords_de.txt"
GERMAN_STOP_WORDS = frozenset(
    line.strip()
    for line in _STOP_WORDS_FILE.read_text("utf-8").splitlines()
    if line.strip() and not line.startswith("#")
)
ENGLISH_STOPS = frozenset(ENGLISH_STOP_WORDS)
_PROPOSAL_WORDS_FILE = Path(__file__).parent / "data" / "stopwords_proposal.txt"
PROPOSAL_WORDS = frozenset(
    line.strip()
    for line in _PROPOSAL_WORDS_FILE.read_text("utf-8").splitlines()
    if line.strip() and not line.startswith("#")
)

# A handful of function words that are frequent in one language and rare in the other; used
# only to guess the language of a text that does not say.
# fmt: off
_GERMAN_MARKERS = frozenset({
    "der", "die", "das", "und", "ist", "nicht", "mit", "fur", "auf", "den", "dem", "des", "ein",
    "eine", "einer", "wir", "sich", "zur", "zum", "werden", "wird", "sowie", "auch", "oder",
    "von", "bei", "durch",
})
_ENGLISH_MARKERS = frozenset({
    "the", "and", "is", "are", "of", "to", "for", "with", "on", "in", "by", "this", "that",
    "will", "be", "from", "an", "or", "as", "which", "we",
})
# fmt: on

LANGUAGE_MARKERS = {"de": _GERMAN_MARKERS, "en": _ENGLISH_MARKERS}
LANGUAGES = ("de", "en")
_STEMMER_NAMES = {"de": "german", "en": "english"}


@lru_cache(maxsize=4096)
def _plain(char: str) -> str:
    # A character that decomposes into letters or digits keeps only those ("¼" is "14", not
    # "1⁄4"), so folding never splits a token: the compiled tokeniser, which cuts before it
    # folds, cuts the same tokens.
    decomposed = unicodedata.normalize("NFKD", char)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    letters = "".join(ch for ch in plain if ch.isalnum())
    return letters or plain


def _plain_match(match: re.Match[str]) -> str:
    return _plain(match.group())


def fold(text: str) -> str:
    """Lower-case ``text`` and fold umlauts, ß and other accents to plain letters."""
    lowered = text.lower()
    if lowered.isascii():
        return lowered
    for letter, plain in _FOLDS:
        if letter in lowered:
            lowered = lowered.replace(letter, plain)
    # Accents other than the German ones (é, ç …): decompose and drop combining marks, one
    # character at a time and cached, since such characters are rare in a text.
    return _NEEDS_ASCII.sub(_plain_match, lowered)


def tokenize(text: str) -> list[str]:
    """Folded word tokens of ``text`` (letters and digits; hyphens and punctuation split)."""
    return _TOKEN.findall(fold(text))


def token_spans(text: str, count: int | None = None) -> list[tuple[int, int]]:
    """Where ``text`` writes each token of :func:`tokenize`: (start, end), one per token,
    in order. Explanations show the words as written ("Städte", not "stadte").

    ``count``: the number of tokens, where the caller has them (saves a second reading).
    """
    spans = [match.span() for match in _TOKEN.finditer(text)]
    if len(spans) == (len(tokenize(text)) if count is None else count):
        return spans
    # Folding split or joined a written word ("ﬁ" is two letters): a span per token.
    return [
        match.span() for match in _TOKEN.finditer(text) for _ in _TOKEN.findall(fold(match.group()))
    ]


def detect_language(tokens: Iterable[str]) -> str:
    """Guess "de" or "en" from folded tokens by counting function words; "" if undecided."""
    de = en = 0
    for token in tokens:
        if token in _GERMAN_MARKERS:
            de += 1
        elif token in _ENGLISH_MARKERS:
            en += 1
    if de == en:
        return ""
    return "de" if de > en else "en"


def stop_words(language: str) -> frozenset[str]:
    """Stop words for "de", "en", or both when the language is unknown."""
    if language == "de":
        return GERMAN_STOP_WORDS
    if language == "en":
        return ENGLISH_STOPS
    return GERMAN_STOP_WORDS | ENGLISH_STOPS


class Analyzer:
    """Turns text into terms (stems) and remembers a readable surface word for each term.

    The stem cache is keyed by (language, token), so every distinct word is stemmed once for
    the life of the analyzer; that keeps analysing a large corpus of calls cheap.
    """

    def __init__(self, *, min_length: int = 2, proposal_words: bool = True) -> None:
        self.min_length = min_length
        # Without PyStemmer's own cache (this class keeps one): its evictions would slow the
        # stemming of a dictionary's headwords.
        self._stemmers = {lang: Stemmer.Stemmer(name, 0) for lang, name in _STEMMER_NAMES.items()}
        # Stems of proposal boilerplate, per language, dropped like stop words.
        self._generic: dict[str, frozenset[str]] = {"de": frozenset(), "en": frozenset()}
        if proposal_words:
            words = [fold(word) for word in PROPOSAL_WORDS]
            self._generic = {
                lang: frozenset(stemmer.stemWords(words))
                for lang, stemmer in self._stemmers.items()
            }
        self._generic[""] = self._generic["de"] | self._generic["en"]
        self._cache: dict[str, dict[str, str | None]] = {"de": {}, "en": {}, "": {}}
        # Per term, how often each folded word was stemmed to it (see surface).
        self.surface_forms: dict[str, dict[str, int]] = {}

    def language_of(self, tokens: list[str], declared: str = "") -> str:
        """The declared language if it is one we stem, else a guess from the tokens."""
        declared = (declared or "").lower()[:2]
        if declared in LANGUAGES:
            return declared
        return detect_language(tokens)

    def stem(self, token: str, language: str) -> str | None:
        """The term for one folded token in ``language``; None for a stop word or noise."""
        cache = self._cache.get(language)
        if cache is None:
            cache = self._cache[""]
            language = ""
        term = cache.get(token, "")
        if term != "":
            return term
        term = self._stem_uncached(token, language)
        cache[token] = term
        return term

    def _stem_uncached(self, token: str, language: str) -> str | None:
        if len(token) < self.min_length or token.isdigit() or token in stop_words(language):
            return None
        if language in self._stemmers:
            term = self._stemmers[language].stemWord(token)
        else:
            # Unknown language: English stemming is the milder of the two and keeps German
            # compounds whole, so it is the safer guess.
            term = self._stemmers["en"].stemWord(token)
        if term in self._generic[language]:
            return None
        counts = self.surface_forms.setdefault(term, {})
        counts[token] = counts.get(token, 0) + 1
        return term

    def stem_words(self, words: list[str], language: str) -> list[str]:
        """Stems of many raw words at once ("" for stop words), without touching the cache.

        Used for dictionary headwords: half a million words in one call to the stemmer.
        """
        joined = "\n".join(words)
        folded = fold(joined).split("\n")
        if len(folded) != len(words):  # a word with a line break: fold one at a time
            folded = [fold(word) for word in words]
        # Each distinct word is stemmed once (a dictionary repeats its headwords).
        distinct = list(dict.fromkeys(folded))
        stops = stop_words(language)
        stem_of = {
            word: "" if word in stops or len(word) < self.min_length else stem
            for word, stem in zip(
                distinct, self._stemmers[language].stemWords(distinct), strict=True
            )
        }
        return [stem_of[word] for word in folded]

    def terms(self, tokens: list[str], language: str) -> list[str]:
        """Terms of already folded tokens in ``language``, stop words removed, order kept."""
        stem = self.stem
        out = []
        for token in tokens:
            term = stem(token, language)
            if term is not None:
                out.append(term)
        return out

    def analyze(self, text: str, language: str = "") -> list[str]:
        """Terms of raw ``text``; the language is guessed when not given."""
        tokens = tokenize(text)
        return self.terms(tokens, self.language_of(tokens, language))

    def surface(self, term: str) -> str:
        """A readable word for ``term``: the shortest of its most seen surface forms."""
        forms = self.surface_forms.get(term)
        if not forms:
            return term
        return min(forms.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0]))[0]
