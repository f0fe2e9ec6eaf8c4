"""How the texts write the words the matcher folds: "Städte", not "stadte".

Terms are folded for matching; explanations show the word as the calls write it. This
module notes each folded word's spelling while the tokens are read, and chooses among the
spellings of one word the same way however the corpus was cut into chunks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from matcher.analysis import fold
from matcher.documents import FIELDS
from matcher.lexicon import Tokens

# A capital after these bytes (or at the start of a field) may only open the sentence.
_SENTENCE_ENDS = frozenset(b".!?:;\n\x00")


# Bytes between a sentence's end and its first word: blanks, quotes, brackets, and any
# non-ASCII byte (the token starts after it, so it is no letter: a dash, "„", a bullet).
_OPENERS = frozenset(b" \t\r\"'([*-")


# A hyphen and what may follow a word whose compound is left to the next one.
_SUSPENDED = frozenset({b"- ", b"-,", b"-\n", b"-/", b"-\x00", b"-"})


# A written word noted for a folded one: (spelling_rank, where it was seen, the word).
Noted = tuple[int, int, str]


def spelling_rank(word: str) -> int:
    """Which of the spellings of one folded word names it (lowest first): small letters
    before a capital before all capitals, and a word with its umlauts before one without."""
    case = 2 if len(word) > 1 and word.isupper() else 1 if word[:1].isupper() else 0
    return 2 * case + word.isascii()


@dataclass
class WrittenTokens(Tokens):
    """Tokens that note how the text writes each folded word the lexicon reads as a string.

    Terms are folded ("gemeinnutzige", "begegnungen"); explanations show the word as the
    calls write it ("gemeinnützige", "Begegnungen"). The lexicon makes a string of a token
    only the first time it meets it (by hash and language), so noting the written word
    there costs nothing per occurrence. A capital that may only open a field or a sentence
    ("Climate mitigation …", "Gemeinnützige Träger …") gives way to small letters where the
    rest of the document writes the word so, and in an English document also where it
    never writes it with a capital inside a sentence (a German noun keeps its capital, and
    so does "Europe"). Of several spellings (hashes) of one folded word, the one of lowest
    :func:`spelling_rank` is kept, the first seen on a tie: so the choice is the same
    however the corpus was cut into chunks.
    """

    n_fields: int = len(FIELDS)
    written: dict[str, Noted] = field(default_factory=dict)
    languages: list[str] = field(default_factory=list)  # per document, where known
    _blob: bytes | None = None
    _ends: list[int] | None = None

    @classmethod
    def of(cls, tokens: Tokens) -> WrittenTokens:
        return cls(tokens.text, tokens.hashes, tokens.segments, tokens.starts, tokens.ends)

    def token(self, i: int) -> str:
        """The folded string of token ``i``, noting how the text writes it."""
        start, end = int(self.starts[i]), int(self.ends[i])
        raw = self._bytes()[start:end].decode("utf-8", "replace")
        word = fold(raw)
        form = self._own_form(i, raw, start) if raw[:1].isupper() else raw
        if self._bytes()[end : end + 2] in _SUSPENDED:  # "Begegnungs- und …"
            form += "-"
        noted = (spelling_rank(form), i, form)
        known = self.written.get(word)
        if known is None or noted < known:
            self.written[word] = noted
        return word

    def folded(self, i: int) -> str:
        """The folded string of token ``i`` (:meth:`Tokens.token`), noting nothing."""
        return super().token(i)

    def _own_form(self, i: int, raw: str, start: int) -> str:
        """``raw``, or the same word in small letters where its capital is positional."""
        shouted = raw.isupper()
        blob = self._bytes()
        if not shouted and not _opens_sentence(blob, start):
            return raw
        small = raw[0].lower() + (raw[1:].lower() if shouted else raw[1:])
        rest = (int(self.ends[i]), self._document_end(i))
        if _written_in(blob, small, *rest):
            return small
        if shouted or self._language(i) != "en" or _written_in(blob, raw, *rest, inside=True):
            return raw
        return small

    def _bytes(self) -> bytes:
        """The texts as one bytes object, made once (a search of it needs no copies)."""
        if self._blob is None:
            self._blob = self.text.tobytes()
        return self._blob

    def _language(self, i: int) -> str:
        doc = int(self.segments[i]) // self.n_fields
        return self.languages[doc] if doc < len(self.languages) else ""

    def _document_end(self, i: int) -> int:
        """Where the last token of token ``i``'s document ends."""
        if self._ends is None:  # per document, found once for the chunk
            n_docs = int(self.segments[-1]) // self.n_fields + 1 if len(self.segments) else 0
            lasts = (np.arange(1, n_docs + 1) * self.n_fields - 1).astype(self.segments.dtype)
            self._ends = self.ends[np.searchsorted(self.segments, lasts, side="right") - 1].tolist()
        return self._ends[int(self.segments[i]) // self.n_fields]


def _opens_sentence(text: bytes, start: int) -> bool:
    """Whether the word at byte ``start`` of ``text`` opens a field or a sentence."""
    at = start - 1
    while at >= 0 and at >= start - 8:
        byte = text[at]
        if byte in _SENTENCE_ENDS:
            return True
        if byte not in _OPENERS and byte < 0x80:
            return False
        at -= 1
    return at < 0


def _written_in(text: bytes, word: str, start: int, stop: int, *, inside: bool = False) -> bool:
    """Whether ``text[start:stop]`` writes ``word`` as a whole word (``inside``: one not
    opening a sentence)."""
    needle = word.encode("utf-8")
    at = text.find(needle, start, stop)
    while at >= 0:
        after = at + len(needle)
        if (
            (at == 0 or not _word_byte(text[at - 1]))
            and (after >= len(text) or not _word_byte(text[after]))
            and not (inside and _opens_sentence(text, at))
        ):
            return True
        at = text.find(needle, at + 1, stop)
    return False


def _word_byte(byte: int) -> bool:
    """Whether a UTF-8 byte may belong to a word (ASCII letter or digit, or non-ASCII)."""
    return byte >= 0x80 or chr(byte).isalnum()


def written_words(parts: Sequence[dict[str, Noted] | None]) -> dict[str, str] | None:
    """Per folded word, its spelling of lowest rank among ``parts`` (chunks in corpus
    order), the first seen on a tie; None if no part noted its words."""
    best: dict[str, tuple[int, int, int, str]] = {}
    noted = False
    for k, part in enumerate(parts):
        if part is None:
            continue
        noted = True
        for word, (rank, at, form) in part.items():
            seen = (rank, k, at, form)
            known = best.get(word)
            if known is None or seen < known:
                best[word] = seen
    return {word: seen[3] for word, seen in best.items()} if noted else None
