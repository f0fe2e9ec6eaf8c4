"""HTML cleaning, plain text, mojibake and language."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.normalize.text import clean_html, detect_language, html_to_text, repair_mojibake


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("the Commissionâ€™s priorities", "the Commission’s priorities"),
        ("FÃ¶rderung fÃ¼r Vereine", "Förderung für Vereine"),
        ("â€“ and â€œquotesâ€\x9d", "– and “quotes”"),
        ("already ’fine’ text", "already ’fine’ text"),  # curly quotes stay curly
        ("Tom &amp; Jerry", "Tom &amp; Jerry"),  # entities are HTML's business, not ours
        ("", ""),
    ],
)
def test_repair_mojibake(raw: str, expected: str) -> None:
    assert repair_mojibake(raw) == expected


def test_clean_html_keeps_structure_and_drops_scripts_and_handlers() -> None:
    html = (
        '<p class="topicdescriptionkind" onclick="steal()">Expected Outcome:</p>'
        '<ul level="0"><li>Cities â€™ role</li></ul><script>alert(1)</script>'
        '<a href="javascript:alert(1)">x</a><a href="https://example.org">ok</a>'
    )
    cleaned = clean_html(html)
    assert "<p>Expected Outcome:</p>" in cleaned
    assert "<li>Cities ’ role</li>" in cleaned
    assert "script" not in cleaned and "onclick" not in cleaned and "javascript" not in cleaned
    assert 'href="https://example.org"' in cleaned


def test_html_to_text_gives_one_line_per_block() -> None:
    html = (
        "<h3>Ziel</h3><p>Förderung&nbsp;von <abbr title='Kommunen'>Kom.</abbr></p>"
        "<ul><li>a &amp; b</li><li>c</li></ul><style>p{}</style>"
    )
    assert html_to_text(html) == "Ziel:\nFörderung von Kom.\na & b\nc"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Die Förderung richtet sich an Kommunen und Vereine in Niedersachsen.", "de"),
        ("Gefördert werden Projekte, die der Umwelt dienen.", "de"),
        ("The call is open to local authorities and non-profit organisations.", "en"),
        ("Expected Outcome: cities will be able to share their practices.", "en"),
        ("", "en"),
    ],
)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language


_EVENT_HANDLER = re.compile(r"<[^>]*\son\w+\s*=", re.IGNORECASE)


@given(
    st.lists(
        st.sampled_from(
            [
                "<script>alert(1)</script>",
                "<SCRIPT src=x>",
                "<img src=x onerror=alert(1)>",
                '<a href="javascript:x" onclick="y">',
                "<p onmouseover='z'>",
                "<svg onload=1>",
                "<style>*{}</style>",
                "<p>",
                "</p>",
                "text",
                "&lt;script&gt;",
                "<iframe>",
                "â€™",
                "<div\nonclick=x>",
                "<<script>script>",
                "<a href=https://a.b>",
            ]
        ),
        max_size=12,
    ).map("".join)
    | st.text(max_size=200)
)
def test_sanitised_html_never_carries_script_or_event_handlers(html: str) -> None:
    cleaned = clean_html(html)
    assert "<script" not in cleaned.lower()
    assert not _EVENT_HANDLER.search(cleaned)
    assert not re.search(r"<[^>]*javascript:", cleaned, re.IGNORECASE)  # escaped text is fine
    html_to_text(html)  # never raises
    assert detect_language(html) in ("de", "en")
