"""Sentences and clauses of a call's text, for the readers of who may apply and where.

Call texts run sections together ("…General Annexes.Proposal page limits…"), carry footnotes
in ``[[…]]`` and abbreviations with full stops ("e.g.", "z. B."), and put a cue in a heading
("Wer wird gefördert?", "Eligible applicants:") with the answer in the lines below it. These
functions cut such text into sentences a pattern can be asked about, and clauses that a
negation ("not", "except", "nicht") rules out.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator

# Footnotes as html_to_text writes them ("[[The list is correct …]]"), and "[1]" markers.
_FOOTNOTE = re.compile(r"\[\[.*?\]\]|\[\d+\]", re.S)
# Abbreviations whose full stop does not end a sentence.
_ABBREVIATION = re.compile(
    r"\b(?:e\.\s?g|i\.\s?e|z\.\s?B|d\.\s?h|u\.\s?a|bzw|ggf|inkl|ca|Nr|Art|Abs|max|min|mind|vs|"
    r"No|Dr|St|etc)\.",
    re.I,
)
# A sentence ends at . ! ? before a space, or before a capital where sections run together.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[a-zäöüß)\]][.!?])(?=[A-ZÄÖÜ])")
# Clause breaks; a break word ("except") stays with the clause it starts, so that the
# clause reads as negated.
_CLAUSE_BREAK = re.compile(
    r"([,;]|\s(?:but|however|whereas|except|excluding|with the exception of|ausser|außer|"
    r"ausgenommen|mit ausnahme)\s)",
    re.I,
)
_PARENTHESIS = re.compile(r"\(([^()]*)\)")
_NEGATION = re.compile(
    r"\b(?:not|nor|no|never|cannot|except|excepting|exception of|exclud\w*|ineligible|nicht|"
    r"kein\w*|ausgeschlossen|ausser\w*|ausgenommen|mit ausnahme)\b"
)
# Sentences about the third parties a project funds (cascade funding), not its applicants.
_THIRD_PARTIES = re.compile(
    r"third part(?:y|ies)|\bfstp\b|sub ?grant|cascad\w* fund|\bopen calls?\b|"
    r"financial support to|weiterleitung|letztempfaeng"
)
HEADING_SCOPE_LINES = 12
LIST_ITEM_LENGTH = 300  # a longer line below a heading is a paragraph, not a list item


def lower(text: str) -> str:
    """``text`` lower-cased with umlauts spelt out (ä → ae, ß → ss), punctuation kept, so
    patterns written for one spelling find both."""
    text = text.casefold().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    text = text.replace("ß", "ss")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def sentences(text: str, *, at_semicolons: bool = False) -> list[str]:
    """The sentences of ``text``, footnotes removed, abbreviations kept whole; with
    ``at_semicolons``, each part between semicolons counts as a sentence too."""
    found = []
    for line in _prepare(text).splitlines():
        found.extend(_line_sentences(line, at_semicolons))
    return found


def _prepare(text: str) -> str:
    text = _FOOTNOTE.sub(" ", text or "")
    return _ABBREVIATION.sub(lambda m: m.group(0).replace(".", ""), text)


def _line_sentences(line: str, at_semicolons: bool) -> list[str]:
    found = []
    for piece in _SENTENCE_END.split(line):
        parts = piece.split(";") if at_semicolons else [piece]
        found.extend(part.strip() for part in parts if part.strip())
    return found


def split_clauses(sentence: str) -> list[tuple[str, bool]]:
    """The clauses of ``sentence``, each with whether a negation rules it out ("Natural
    persons are NOT eligible", "(with the exception of sole traders)", "except Denmark")."""
    found: list[tuple[str, bool]] = []
    # A parenthesis is a clause of its own; the sentence around it reads on without it.
    asides = _PARENTHESIS.findall(sentence)
    for text in (_PARENTHESIS.sub(" ", sentence), *asides):
        carry = ""
        for position, part in enumerate(_CLAUSE_BREAK.split(text)):
            if position % 2:  # a break: words like "except" open the next clause
                carry = part if part.strip() not in {",", ";"} else ""
                continue
            clause = " ".join(f"{carry}{part}".split())
            carry = ""
            if clause:
                found.append((clause, is_negated(clause)))
    return found


def clauses(sentence: str) -> list[str]:
    """The clauses of ``sentence`` that no negation rules out."""
    return [clause for clause, negated in split_clauses(sentence) if not negated]


def is_about_third_parties(text: str) -> bool:
    """True when ``text`` speaks of the third parties a project funds ("Financial Support to
    Third Parties may only be awarded to…"): they are not the call's applicants."""
    return bool(_THIRD_PARTIES.search(lower(text).replace("-", " ")))


def is_negated(text: str) -> bool:
    """True when ``text`` says "not", "no", "except", "nicht" or the like."""
    return bool(_NEGATION.search(lower(text)))


def cued_sentences(text: str, cue: Callable[[str], str]) -> Iterator[tuple[str, str]]:
    """``(kind, sentence)`` for every sentence of ``text`` that ``cue`` gives a kind ("" for
    none). A cue in a heading line ("Eligible applicants:", "Wer wird gefördert?") gives its
    kind to the lines below it, up to the next heading or blank line."""
    inherited, left = "", 0
    for line in _prepare(text).splitlines():
        stripped = line.strip()
        if not stripped:
            inherited, left = "", 0
            continue
        line_sentences = _line_sentences(stripped, at_semicolons=True)
        kinds = [cue(lower(s)) for s in line_sentences]
        if (stripped.endswith((":", "?")) and not any(kinds)) or len(stripped) > LIST_ITEM_LENGTH:
            inherited, left = "", 0  # a new heading, or a paragraph, ends the list
        for sentence, kind in zip(line_sentences, kinds, strict=True):
            if kind or (inherited and left > 0):
                yield kind or inherited, sentence
        if any(kinds) and _is_heading(stripped):
            inherited, left = next(k for k in kinds if k), HEADING_SCOPE_LINES
        elif left:
            left -= 1


def _is_heading(line: str) -> bool:
    if len(line) > 100:
        return False
    return line.endswith((":", "?")) or (len(line) <= 60 and not line.endswith((".", ";", ",")))
