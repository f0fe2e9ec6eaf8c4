"""Text and HTML from the sources: mojibake repaired, HTML sanitised, plain text, language.

HTML is cleaned with the one allow-list in ``storage.sanitize``; this module never keeps a
second list of its own.
"""

from __future__ import annotations

import html as html_lib
import re

import ftfy

from storage.sanitize import sanitize_html

# Only encoding repairs: curly quotes, ligatures, full-width letters and HTML entities are the
# source's own text and stay as they are (the Förderdatenbank texts must stay unmodified).
_FTFY_CONFIG = ftfy.TextFixerConfig(
    unescape_html=False,
    uncurl_quotes=False,
    fix_latin_ligatures=False,
    fix_character_width=False,
    fix_line_breaks=False,
    normalization="NFC",
    explain=False,
)
_BLOCK_END = re.compile(
    r"<\s*(?:br|hr)\s*/?\s*>|</\s*(?:p|div|li|h[1-6]|tr|dt|dd|table|ul|ol|blockquote|article|"
    r"section)\s*>",
    re.IGNORECASE,
)
_INVISIBLE = re.compile(
    r"<\s*(script|style|template|noscript)\b[^>]*>.*?<\s*/\s*\1\s*>", re.IGNORECASE | re.DOTALL
)
_TAG = re.compile(r"<!--.*?-->|<[^>]*>", re.DOTALL)

_STOP_WORDS = {
    "de": frozenset(
        (
            "der", "die", "das", "und", "ist", "nicht", "für", "mit", "von", "zu", "den", "im",
            "auf", "des", "dem", "ein", "eine", "einer", "eines", "wird", "werden", "sind", "auch",
            "sich", "bei", "oder", "nach", "aus", "können", "kann", "wir", "sie", "es", "als",
            "über", "zur", "zum", "durch", "sowie", "wie", "noch", "nur", "vom", "bis", "unter",
            "diese", "dieser", "wurde", "haben", "hat", "sein",
        )
    ),
    "en": frozenset(
        (
            "the", "and", "of", "to", "in", "for", "is", "are", "with", "on", "be", "by", "this",
            "that", "as", "an", "or", "from", "will", "can", "which", "at", "it", "their", "they",
            "not", "have", "has", "was", "were", "been", "should", "must", "may", "these", "such",
            "other", "its", "into", "more", "than", "all", "who",
        )
    ),
}  # fmt: skip


def repair_mojibake(text: str) -> str:
    """``text`` with UTF-8 read as Windows-1252 repaired (``â€™`` → ``’``, ``Ã¼`` → ``ü``)
    and control characters removed; nothing else changed."""
    if not text:
        return ""
    return ftfy.fix_text(text, config=_FTFY_CONFIG)


def clean_html(html: str) -> str:
    """Crawled HTML ready to store: mojibake repaired, then sanitised with the one
    allow-list (``storage.sanitize.sanitize_html``)."""
    if not html:
        return ""
    return sanitize_html(repair_mojibake(html)).strip()


def html_to_text(html: str) -> str:
    """The readable text of ``html``: one line per block, entities decoded, whitespace
    collapsed, scripts and styles dropped, mojibake repaired."""
    if not html:
        return ""
    text = _INVISIBLE.sub(" ", html)
    text = _BLOCK_END.sub("\n", text)
    text = _TAG.sub(" ", text)
    text = repair_mojibake(html_lib.unescape(text))
    lines = (
        re.sub(r"[ \t\r\f\v\u00a0\u202f\u2009]+", " ", line).strip() for line in text.split("\n")
    )
    return "\n".join(line for line in lines if line)


def detect_language(text: str) -> str:
    """``"de"`` or ``"en"``: whichever language's common words the text uses more.

    Stop words decide, not a model: the sources write only German or English, and the
    function must run offline. Umlauts and ß tip a tie towards German; an empty or
    undecidable text counts as English (the EU sources' language).
    """
    if not text:
        return "en"
    words = re.findall(r"[a-zäöüß]+", text.casefold())
    scores = {
        lang: sum(1 for word in words if word in stops) for lang, stops in _STOP_WORDS.items()
    }
    if scores["de"] == scores["en"]:
        return "de" if re.search(r"[äöüß]", text.casefold()) else "en"
    return "de" if scores["de"] > scores["en"] else "en"
