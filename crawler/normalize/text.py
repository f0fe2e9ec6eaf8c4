"""Text and HTML from the sources: mojibake repaired, HTML sanitised, plain text, summaries,
boilerplate, language.

HTML is cleaned with the one allow-list in ``storage.sanitize``; this module never keeps a
second list of its own. Structure survives: blocks end a line, a heading is set off from the
text under it, and text that an export flattened into one paragraph ("Expected
Outcome:Projects…", "realised.Applicants") gets its breaks back.
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
_BLOCK_TAGS = (
    r"p|div|li|ul|ol|h[1-6]|tr|table|thead|tbody|tfoot|caption|dl|dt|dd|blockquote|article|"
    r"section|header|footer|main|aside|nav|figure|figcaption|address|pre|details|summary|form|"
    r"fieldset"
)
_BLOCK = re.compile(rf"<\s*/?\s*(?:{_BLOCK_TAGS})\b[^>]*>|<\s*(?:br|hr)\b[^>]*>", re.IGNORECASE)
_HEADING_END = re.compile(r"<\s*/\s*(?:h[1-6]|dt)\s*>", re.IGNORECASE)
_CELL_END = re.compile(r"<\s*/\s*t[dh]\s*>", re.IGNORECASE)
_INVISIBLE = re.compile(
    r"<\s*(script|style|template|noscript)\b[^>]*>.*?<\s*/\s*\1\s*>", re.IGNORECASE | re.DOTALL
)
_TAG = re.compile(r"<!--.*?-->|<[^>]*>", re.DOTALL)
_TAG_NAME = re.compile(r"<\s*/?\s*([a-zA-Z][a-zA-Z0-9]*)")
_HEADING_MARK = "\ue000"  # a private-use character: no source text carries one
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u202f\u2009\u200b\ufeff]+")
# Landmarks and sections inside a call's text become plain blocks: the page has its own.
_CONTAINER = re.compile(
    r"<(/?)\s*(?:section|article|header|footer|main|aside|nav|figure|figcaption|address)\b[^>]*>",
    re.IGNORECASE,
)
_OUTER_HEADING = re.compile(r"<(/?)\s*h1\b", re.IGNORECASE)  # the page's h1 is the call title
# A scraper's left-over attribute end at the start of a text (`">General conditions`).
_LEADING_JUNK_HTML = re.compile(r"^(\s*(?:<p[^>]*>)?)\s*(?:\"|&quot;)\s*(?:>|&gt;)", re.I)
_LEADING_JUNK_TEXT = re.compile(r"^\s*\"\s*>\s*")

# --- text an export flattened into one paragraph -----------------------------------------
# The section labels of EU topic descriptions.
_SECTION_LABELS = (
    r"Expected [Oo]utcomes?|Expected [Ii]mpacts?|Scope|Objectives?|Specific [Cc]hallenge|"
    r"Topic [Ss]cope|Deliverables|Entrusted tasks|Expected [Rr]esults?"
)
# Lines that head a section once the text is broken up again.
_SECTION_LABEL_LINE = re.compile(
    rf"(?:{_SECTION_LABELS}):|(?:General |Other )?[Cc]onditions:?|Support information:?"
)
_SUMMARY_SECTION = re.compile(r"(?:Objectives?|Scope|Topic [Ss]cope):")
_GLUED = [
    # "…also be described.nullThe total…" (an empty field written as "null")
    (re.compile(r"(?<=[a-z.!?)\]])null(?=[A-Z])"), "\n"),
    # "…is improved. Scope:Citizens…" / "Expected Outcome:Project…": the label on its own line
    (re.compile(rf"(?:^|(?<=[.;!?)\]”\"%]))\s*({_SECTION_LABELS})\s?:\s*"), "\n\\1:\n"),
    # "…marine and terrestrial ecosystemsScope: The present call…"
    (re.compile(rf"(?<=[a-z])({_SECTION_LABELS})\s?:\s*"), "\n\\1:\n"),
    # "…should:• Gather data.• Make use of…" (bullets)
    (re.compile(r"\s*•\s*"), "\n• "),
    # "…outcomes:Increased understanding…" (a list's lead-in, then its first item)
    (re.compile(r"(?<=[a-zäöüß)\]]):(?=[A-Za-zÄÖÜäöü])"), ":\n"),
    # "…such as schools;Terrorist attacks…" (list items)
    (re.compile(r"(?<=\w);(?=[A-Za-zÄÖÜ])"), ";\n"),
    # "…will be realised.Applicants…" (paragraphs)
    (re.compile(r"(?<=[a-zäöüß)\]%”\"])([.!?])(?=[A-ZÄÖÜ](?:[a-zäöüß]|\s))"), "\\1\n"),
    # "Conditions1. Admissibility…", "…call document.2. Proposal…" (numbered items)
    (re.compile(r"(?<=[A-Za-z.:)])(?=\d{1,2}[a-z]?\.\s?[A-Z])"), "\n"),
    # "…page limit and layoutdescribed in Annex A…" (a label, then its reference)
    (re.compile(r"(?<=[a-z])(?=described in\b)"), ": "),
]

# --- boilerplate: a pointer elsewhere is not content ----------------------------------------
_REFERENCE = re.compile(
    r"(?:as\s+)?(?:described|set\s+out|specified|defined|explained|detailed|laid\s+down|"
    r"indicated)\s+(?:in|under)\b[^.;\n]{0,160}"
    r"|(?:please\s+)?(?:see|refer\s+to|consult)\s+(?:the\s+)?(?:call|work\s+programme|"
    r"programme\s+guide|guide|annex|section|documents?|topic\s+page|website|portal)[^.;\n]{0,120}"
    r"|siehe\s+(?:die\s+|den\s+|das\s+)?(?:Förderrichtlinie|Richtlinie|Förderaufruf|Aufruf|"
    r"Merkblatt|Ausschreibung|Bekanntmachung|Website|Internetseite|Homepage|Link|Anlage|unten|"
    r"oben)[^.;\n]{0,80}"
    r"|(?:nähere|weitere)\s+(?:Informationen|Einzelheiten|Angaben)\s+(?:finden\s+Sie\s+)?"
    r"(?:in|im|unter|auf)\b[^.;\n]{0,100}",
    re.IGNORECASE,
)
_EMPTY_WORDS = re.compile(
    r"\s*(?:n/?a|not\s+applicable|tbd|tba|to\s+be\s+(?:confirmed|announced)|keine\s+Angaben?|"
    r"entfällt|-+|–)\s*[.!]?\s*",
    re.IGNORECASE,
)
_LABEL_WORDS = 6  # no more words than this in front of a pointer: a label, not a statement

# --- summaries ----------------------------------------------------------------------------
# The search list shows 300 characters; one long first sentence may run to 450 (the list
# cuts it at a word).
SUMMARY_LENGTH = 300
_ABBREVIATIONS = frozenset(
    (
        "e.g", "i.e", "etc", "approx", "incl", "excl", "no", "nr", "art", "abs", "bzw", "z.b",
        "u.a", "d.h", "ca", "max", "min", "mio", "mrd", "tsd", "vgl", "ggf", "inkl", "evtl",
        "dr", "prof", "st", "str", "sog", "usw", "u.ä", "z.t", "v.a", "s", "vs", "jan", "feb",
        "mr", "mrs", "ms",
    )
)  # fmt: skip
_SENTENCE_END = re.compile(r"[.!?…](?:\[\d+\])?(?=[\"”’)\]]*(?:\s|$))")  # "2023.[1] Among"
_ENDS_SENTENCE = re.compile(r"[.!?…][\"”’)\]]*$")
# "Deadline: 5-Oct-23 The European Urban Initiative is seeking …" (aggregator posts)
_DEADLINE_LEAD = re.compile(
    r"^(?:Deadlines?|Frist|Antragsfrist|Einsendeschluss|Closing date)\s*:\s*\S+\s+(?=[A-ZÄÖÜ])"
)
_TRAILING_ELLIPSIS = re.compile(r"\s*(?:\[\s*(?:…|\.\.\.)\s*\]|…|\.\.\.)\s*$")

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
    """Crawled HTML ready to store: mojibake repaired, a flattened text given its paragraphs,
    headings and lists back, then sanitised with the one allow-list
    (``storage.sanitize.sanitize_html``)."""
    if not html:
        return ""
    html = _LEADING_JUNK_HTML.sub(r"\1", repair_mojibake(html))
    if _is_flat(html):
        html = _rebuild_flat(html)
    html = _CONTAINER.sub(lambda m: f"<{m.group(1)}div>", html)
    html = _OUTER_HEADING.sub(lambda m: f"<{m.group(1)}h2", html)
    return sanitize_html(html).strip()


def html_to_text(html: str) -> str:
    """The readable text of ``html``: one line per block, a heading ended by ``:`` on a line
    of its own, entities decoded, whitespace collapsed, scripts and styles dropped, mojibake
    repaired, and breaks put back where an export glued sections and sentences together.

    Line breaks inside a block are the source's line wrapping, not structure, and go; a text
    without any tag keeps its lines.
    """
    if not html:
        return ""
    text = repair_mojibake(html).replace(_HEADING_MARK, "")
    text = _INVISIBLE.sub(" ", text)
    if _TAG.search(text):
        text = re.sub(r"\s+", " ", text)
    text = _HEADING_END.sub(f"{_HEADING_MARK}\n", text)
    text = _CELL_END.sub(" ", text)
    text = _BLOCK.sub("\n", text)
    text = _TAG.sub("", text)
    text = _LEADING_JUNK_TEXT.sub("", html_lib.unescape(text))
    lines: list[str] = []
    for raw_line in text.split("\n"):
        heading = raw_line.rstrip().endswith(_HEADING_MARK)
        for line in _unglue(raw_line.replace(_HEADING_MARK, "")).split("\n"):
            line = _SPACES.sub(" ", line).strip()
            if line:
                lines.append(line)
        if heading and lines and not lines[-1].endswith((":", ".", "?", "!")):
            lines[-1] += ":"
    return "\n".join(lines)


def is_boilerplate(text: str) -> bool:
    """True when ``text`` only points elsewhere ("described in the call document", "see the
    call document", "siehe Förderrichtlinie", "n/a"), with at most labels in front of the
    pointers ("2. Eligible countries: described in section 6 …"): such a text says nothing
    a reader could act on. One statement of its own ("Gefördert werden Kommunen") makes it
    content."""
    if not text or not text.strip() or _EMPTY_WORDS.fullmatch(text):
        return True
    pointed = False
    for segment in re.split(r"[.;!?]+(?:\s|$)|\n", text):
        reference = _REFERENCE.search(segment)
        if reference:
            pointed = True
            head = segment[: reference.start()]
            # "Proposal page limits and layout: described in …": the label says nothing
            if head.strip().endswith(":") or _words(head) <= _LABEL_WORDS:
                continue
            return False
        if _words(segment) >= 3 and not segment.strip().endswith(":"):
            return False
    return pointed


def _words(text: str) -> int:
    return len(re.findall(r"[^\W\d_]{2,}", re.sub(r"^\s*\d+[a-z]?[.)]?\s*", "", text)))


def make_summary(description_text: str, given: str = "", limit: int = SUMMARY_LENGTH) -> str:
    """A summary of at most ``limit`` characters (a single long first sentence: up to half
    as many again), cut at a sentence end, else at a word end with "…" (never inside a word).

    A summary of the source's own (``given``) is kept when it is not taken from the
    description, or when it is a passage of the description word for word (a page that
    shows the description then leaves it out). An excerpt that is only nearly the start of
    the description (cut off, differently spaced) gives way, as does no summary at all, to
    the description's first sentences of prose, word for word. Headings, labels, a
    "Deadline: …" lead and boilerplate are never a summary.
    """
    given = _TRAILING_ELLIPSIS.sub("", " ".join((given or "").split()))
    if given and is_boilerplate(given):
        given = ""
    description_text = description_text or ""
    if given:
        short = shorten(given, limit)
        flat_description = " ".join(description_text.split())
        if short in description_text or (
            not flat_description.startswith(given[:60]) and given not in flat_description
        ):
            return short
    lines = [line.strip() for line in description_text.split("\n") if line.strip()]
    lead = _lead_paragraph(lines)
    if not lead:
        return shorten(given, limit) if given else ""
    short = shorten(lead, limit)
    if short.endswith("…"):
        # One long first sentence: whole, it is a passage the page leaves out; cut, the
        # page would show it and then the description again.
        whole = shorten(lead, limit * 3 // 2)
        short = whole if not whole.endswith("…") else short
    return short


def shorten(text: str, limit: int = SUMMARY_LENGTH) -> str:
    """``text`` if it fits in ``limit`` characters; else its sentences that fit, or, when
    the first sentence alone is too long, its words that fit followed by "…"."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        if end > limit:
            break
        if not _is_abbreviation(text, match.start()):
            cut = end
    if cut:
        return text[:cut].rstrip()
    head = text[: limit - 1]
    if not text[limit - 1].isspace():
        head = head.rsplit(" ", 1)[0] if " " in head else head
    return head.rstrip(" ,;:–-—(") + "…"


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


# --- internals ----------------------------------------------------------------------------
def _unglue(line: str) -> str:
    for pattern, replacement in _GLUED:
        line = pattern.sub(replacement, line)
    return line


def _is_flat(html: str) -> bool:
    """True for HTML that is bare paragraphs of text, perhaps under headings (an export's
    flattening): only then may its structure be rebuilt from the text without losing markup."""
    names = {name.lower() for name in _TAG_NAME.findall(html)}
    return "p" in names and names <= {"p", "br", "h2", "h3", "h4", "h5"}


def _rebuild_flat(html: str) -> str:
    headings = {
        " ".join(html_lib.unescape(_TAG.sub("", h)).split()).rstrip(":")
        for h in re.findall(r"<h[2-5][^>]*>(.*?)</h[2-5]\s*>", html, re.I | re.S)
    }
    lines = html_to_text(html).split("\n")
    parts: list[str] = []
    in_list = False
    for position, line in enumerate(lines):
        escaped = html_lib.escape(line, quote=False)
        previous = lines[position - 1] if position else ""
        if _SECTION_LABEL_LINE.fullmatch(line) or line.rstrip(":") in headings:
            parts.append(("</ul>" if in_list else "") + f"<h3>{escaped.rstrip(':')}</h3>")
            in_list = False
            continue
        # "…outcomes:" then items ending ";" (the last one ends "."): a list.
        if previous.endswith(":") and line.endswith(";") and not in_list:
            parts.append("<ul>")
            in_list = True
        if in_list:
            parts.append(f"<li>{escaped}</li>")
            if not line.endswith(";"):
                parts.append("</ul>")
                in_list = False
            continue
        parts.append(f"<p>{escaped}</p>")
    if in_list:
        parts.append("</ul>")
    return "".join(parts)


def _lead_paragraph(lines: list[str]) -> str:
    """The first paragraph that reads as prose (whole sentences): after the "Objective:" or
    "Scope:" label if the text has one (EU topics: what the topic is about), skipping
    labels, boilerplate, a list's lead-in ("…the following outcomes:") and its items, and
    lines without a sentence end (titles, legal references, "Open from … until …")."""
    start = next((i + 1 for i, line in enumerate(lines) if _SUMMARY_SECTION.fullmatch(line)), 0)
    fallback = ""
    in_list = False
    for line in lines[start:] + lines[:start]:
        line = _DEADLINE_LEAD.sub("", line)
        if not line or _is_label(line) or is_boilerplate(line):
            in_list = False
            continue
        fallback = fallback or line
        if line.endswith(":"):
            in_list = True
            continue
        if in_list:
            in_list = line.endswith(";")
            continue
        if line.endswith(";") or not _ENDS_SENTENCE.search(line):
            continue
        return line
    return fallback


def _is_label(line: str) -> bool:
    """A heading or a label line ("Expected Outcome:", "Kurztext:", "Inklusionsprojekte")."""
    words = len(line.split())
    if line.endswith(":") and words <= 8:
        return True
    return words <= 3 and not _SENTENCE_END.search(line)


def _is_abbreviation(text: str, dot: int) -> bool:
    if text[dot] != ".":
        return False
    word = re.search(r"([\w.]+)$", text[:dot])
    if not word:
        return False
    token = word.group(1).casefold()
    ordinal = token.isdigit() and len(token) <= 2  # "31. März", not "im Jahr 2026."
    return token in _ABBREVIATIONS or ordinal or (len(token) == 1 and token.isalpha())
