"""Readable text: structure survives sanitising, sections an export glued together come
apart again, summaries end at a sentence or a word, boilerplate is not content."""

from __future__ import annotations

import pytest

from crawler.normalize.text import (
    SUMMARY_LENGTH,
    clean_html,
    html_to_text,
    is_boilerplate,
    make_summary,
    shorten,
)


@pytest.mark.parametrize(
    ("html", "text"),
    [
        # a heading is set off from its text; blocks end lines
        ("<h3>Ziel</h3><p>Kommunen stärken.</p>", "Ziel:\nKommunen stärken."),
        ("<h2>Who may apply?</h2>Towns", "Who may apply?\nTowns"),
        (
            "<dl><dt>Fördersumme</dt><dd>bis zu 5.000 Euro</dd></dl>",
            "Fördersumme:\nbis zu 5.000 Euro",
        ),
        ("<p>Intro:</p><ul><li>a</li><li>b</li></ul>", "Intro:\na\nb"),
        ("<section>One.</section><section>Two.</section>", "One.\nTwo."),
        ("<h1>Title</h1>Text", "Title:\nText"),
        # the source's line wrapping inside a paragraph is not a break
        (
            "<p>Richtlinie zur Förderung im\n  non-formalen Bereich</p>",
            "Richtlinie zur Förderung im non-formalen Bereich",
        ),
        ("<p>word<sup>[1]</sup> and <a href='x'>link</a>.</p>", "word[1] and link."),
        ("<table><tr><td>a</td><td>b</td></tr></table>", "a b"),
        # a text without tags keeps its lines
        ("line one\nline two", "line one\nline two"),
        # glued by an export: sections, list items, sentences, numbered items
        (
            "<p>Expected Outcome:Projects will deliver:cheaper;faster results. Scope:Cities"
            " apply.</p>",
            "Expected Outcome:\nProjects will deliver:\ncheaper;\nfaster results.\nScope:\n"
            "Cities apply.",
        ),
        (
            "<p>Results will be realised.Applicants must be towns.</p>",
            "Results will be realised.\nApplicants must be towns.",
        ),
        (
            "<p>the General Annexes.A number of countries</p>",
            "the General Annexes.\nA number of countries",
        ),
        (
            "<p>&quot;&gt;Conditions1. Admissibility: described in section 5.2. Page limits"
            " and layoutdescribed in Part B</p>",
            "Conditions\n1. Admissibility: described in section 5.\n2. Page limits and layout:"
            " described in Part B",
        ),
        (
            "<p>should also be described.nullThe total budget</p>",
            "should also be described.\nThe total budget",
        ),
        # not glue: numbers, abbreviations in prose, times and addresses stay whole
        (
            "<p>EUR 1.5 million, e.g. towns, at 17:00, see https://ec.europa.eu/info</p>",
            "EUR 1.5 million, e.g. towns, at 17:00, see https://ec.europa.eu/info",
        ),
        # mojibake repaired
        ("<p>the Commissionâ€™s â€œpriorityâ€\x9d</p>", "the Commission’s “priority”"),
    ],
)
def test_html_to_text_keeps_sections_apart(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    ("html", "kept"),
    [
        ("<h3>Scope</h3><p>Text</p><ul><li>a</li></ul>", ["<h3>Scope</h3>", "<li>a</li>"]),
        (
            "<section><h2>A</h2><p>x</p></section><article>y</article>",
            ["<div><h2>A</h2>", "<div>y</div>"],
        ),
        ("<h1>Big</h1><p>x</p>", ["<h2>Big</h2>"]),
        (
            "<table><caption>Rates</caption><tr><td>1</td></tr></table>",
            ["<caption>Rates</caption>"],
        ),
        ("<dl><dt>Quote</dt><dd>90 %</dd></dl>", ["<dt>Quote</dt><dd>90 %</dd>"]),
    ],
)
def test_clean_html_keeps_structure(html: str, kept: list[str]) -> None:
    cleaned = clean_html(html)
    for fragment in kept:
        assert fragment in cleaned


def test_flattened_export_gets_headings_paragraphs_and_lists_back() -> None:
    flat = (
        "<p>Expected Outcome:Project results are expected to contribute to the following"
        " outcomes:Schools are safer;Police and schools cooperate better. Scope:Citizens in"
        " schools face threats.This topic funds solutions.</p>"
    )
    assert clean_html(flat) == (
        "<h3>Expected Outcome</h3>"
        "<p>Project results are expected to contribute to the following outcomes:</p>"
        "<ul><li>Schools are safer;</li><li>Police and schools cooperate better.</li></ul>"
        "<h3>Scope</h3><p>Citizens in schools face threats.</p><p>This topic funds solutions.</p>"
    )


def test_markup_beyond_paragraphs_is_never_rebuilt() -> None:
    html = "<p>Intro:<strong>bold</strong> text.Next</p>"
    assert "<strong>bold</strong>" in clean_html(html)


@pytest.mark.parametrize(
    ("text", "given", "summary"),
    [
        # no summary of the source's: the first prose sentences of the description
        (
            "Kurztext:\nWenn Sie investieren, erhalten Sie eine Beteiligung.\nVolltext:\nMehr.",
            "",
            "Wenn Sie investieren, erhalten Sie eine Beteiligung.",
        ),
        # EU topics: what the topic is about (Objective / Scope), not the outcome list
        (
            "Expected Outcome:\nResults are expected to contribute to these outcomes:\nA;\nB.\n"
            "Scope:\nCities face heat waves. This topic funds plans.",
            "",
            "Cities face heat waves. This topic funds plans.",
        ),
        # titles, legal references and "Open from … until …" lines are skipped
        (
            "Rechtsgrundlage:\nRichtlinie zur Förderung vom 04.11.2024\nAls Hochschule können"
            " Sie bis zum 30.09. jeden Jahres einen Antrag stellen.\nWeblink zur Förderrichtlinie",
            "",
            "Als Hochschule können Sie bis zum 30.09. jeden Jahres einen Antrag stellen.",
        ),
        # an aggregator's excerpt that is the start of the description gives way to the
        # description's sentences, without the "Deadline: …" lead
        (
            "Deadline: 5-Oct-23 The Initiative is seeking proposals. It has EUR 120 million. […]",
            "The Initiative is seeking proposals. It has EUR 120 million. […]",
            "The Initiative is seeking proposals. It has EUR 120 million.",
        ),
        # a summary of the source's own that the description does not contain is kept
        (
            "Nakopa fördert Partnerschaften.",
            "Projekte mit 50.000 bis 250.000 Euro.",
            "Projekte mit 50.000 bis 250.000 Euro.",
        ),
        # boilerplate is no summary
        (
            "Described in the call document.\nTowns may apply for twinning.",
            "",
            "Towns may apply for twinning.",
        ),
        ("", "siehe Förderrichtlinie", ""),
        ("", "", ""),
    ],
)
def test_summary(text: str, given: str, summary: str) -> None:
    assert make_summary(text, given) == summary


def test_summary_of_the_description_is_hidden_by_the_call_page() -> None:
    # The call page leaves out a summary that the description contains.
    text = "Scope:\nCities face heat waves. This topic funds plans for shade and water."
    assert make_summary(text) in text


@pytest.mark.parametrize(
    ("text", "limit", "short"),
    [
        ("Short enough.", 50, "Short enough."),
        ("First sentence. Second sentence is longer.", 30, "First sentence."),
        ("Bis zum 31. März 2026. Danach nicht.", 25, "Bis zum 31. März 2026."),  # no cut at "31."
        ("See e.g. towns. And more text here.", 20, "See e.g. towns."),
        ("One very long sentence without an end in sight at all", 30, "One very long sentence…"),
        ("Wordwordwordwordwordwordwordwordword", 10, "Wordwordw…"),
        ("Kommunen, Vereine und Verbände sowie weitere", 21, "Kommunen, Vereine…"),
    ],
)
def test_shorten_never_cuts_a_word(text: str, limit: int, short: str) -> None:
    assert shorten(text, limit) == short
    assert len(shorten(text, limit)) <= limit


def test_one_long_first_sentence_stays_whole_up_to_half_the_limit_again() -> None:
    sentence = "Cities " + "and towns " * 36 + "apply."
    assert 300 < len(sentence) <= 450
    assert make_summary(sentence) == sentence
    too_long = "Cities " + "and towns " * 60 + "apply."
    assert make_summary(too_long).endswith("towns…")


def test_summaries_fit_the_search_list() -> None:
    long = " ".join(["Kommunen fördern Projekte in der Stadt."] * 20)
    summary = make_summary(long)
    assert len(summary) <= SUMMARY_LENGTH and summary.endswith(".")


@pytest.mark.parametrize(
    ("text", "boilerplate"),
    [
        ("described in the call document", True),
        ("As described in section 6 of the call document.", True),
        ("See the call document.", True),
        ("Please see the call documents.", True),
        ("siehe Förderrichtlinie", True),
        ("Siehe Richtlinie.", True),
        ("Nähere Informationen finden Sie in der Förderrichtlinie.", True),
        ("n/a", True),
        ("keine Angabe", True),
        ("", True),
        (
            "Conditions\n1. Admissibility conditions: described in section 5 of the call"
            " document.\n2. Eligible countries: described in section 6 of the call document.",
            True,
        ),
        ("Eligible countries: described in section 6 of the call document", True),
        # content, even with a pointer in it
        ("Towns and municipalities or their twinning committees may apply.", False),
        (
            "Eligible countries: described in section 6 of the call document.\nThis topic"
            " requires at least 3 police authorities from 3 different Member States.",
            False,
        ),
        ("Gefördert werden Kommunen; Einzelheiten siehe Förderrichtlinie.", False),
        ("Förderung von Kitas.", False),
    ],
)
def test_boilerplate_does_not_pass_for_content(text: str, boilerplate: bool) -> None:
    assert is_boilerplate(text) is boilerplate
