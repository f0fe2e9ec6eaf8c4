"""What readers do: an NGO searching in German finds an English EU call and takes its
deadlines away; a reader switches the language and it stays switched."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from playwright.sync_api import expect

BRUSSELS = ZoneInfo("Europe/Brussels")


def result_titles(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [t.strip() for t in page.locator("ol.results h2").all_inner_texts()]


def choose_applicant(page, label: str) -> None:  # type: ignore[no-untyped-def]
    """Pick ``label`` among who may apply, by its text: a box to tick, or a choice in a list."""
    box = page.get_by_label(re.compile(r"^\s*" + re.escape(label)))
    if box.count():
        box.check()
        return
    option = page.locator("option", has_text=label)
    assert option.count() == 1, f"no who-may-apply choice {label!r}"
    page.locator("select", has=option).select_option(option.get_attribute("value"))


def day_of(value: date | datetime) -> date:
    """The calendar day of an event start: a whole-day date, or a time read in Brussels."""
    if isinstance(value, datetime):
        return value.astimezone(BRUSSELS).date() if value.tzinfo else value.date()
    return value


@pytest.mark.parametrize("width", [1280, 360])
def test_ngo_searches_in_german_and_takes_the_english_calls_deadlines_away(  # type: ignore[no-untyped-def]
    width: int, seeded, new_page, screenshot, assert_no_horizontal_overflow
) -> None:
    page = new_page(width=width, lang="de")
    page.goto("/")
    page.fill("#q", "Städtepartnerschaft")
    page.locator("#q").press("Enter")
    page.wait_for_url(re.compile(r"[?&]q=St"))
    titles = result_titles(page)
    assert any(t.startswith("Town twinning") for t in titles), titles
    assert not any("Quantum" in t for t in titles), titles
    screenshot(page, "results")

    choose_applicant(page, "Verein / NGO")
    page.get_by_role("button", name="Filter anwenden").click()
    page.wait_for_url(re.compile(r"[?&]applicant=ngo"))
    assert page.locator("#q").input_value() == "Städtepartnerschaft"
    titles = result_titles(page)
    assert any(t.startswith("Town twinning") for t in titles), titles
    assert_no_horizontal_overflow(page)
    screenshot(page, "filtered")

    page.locator("ol.results h2 a", has_text="Town twinning").click()
    page.wait_for_url(f"**/calls/{seeded.twinning}")
    assert page.locator("h1").inner_text().startswith("Town twinning")
    assert "Verein / NGO" in page.locator("dl.facts").inner_text()
    assert_no_horizontal_overflow(page)

    link = page.locator('a[href$=".ics"]')
    assert link.count() == 1, "the call page offers one .ics download"
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.failure() is None
    assert download.suggested_filename.endswith(".ics")
    calendar = Calendar.from_ical(Path(download.path()).read_bytes())
    events = calendar.walk("VEVENT")
    assert len(events) == 2, "one event per stage of the two-stage call"
    expected = sorted(due.astimezone(BRUSSELS).date() for due in seeded.twinning_stages)
    assert sorted(day_of(e.decoded("DTSTART")) for e in events) == expected
    for event in events:
        told = f"{event.get('SUMMARY', '')} {event.get('DESCRIPTION', '')}"
        assert "Town twinning" in told, "each event names the call"


def test_language_switch_takes_the_reader_back_and_stays(  # type: ignore[no-untyped-def]
    seeded, new_page
) -> None:
    page = new_page(width=1280, lang="de")
    html = page.locator("html")
    search_button = page.locator("form.search button[type=submit]").first
    page.goto("/?q=twinning")
    expect(html).to_have_attribute("lang", "de")
    expect(search_button).to_have_text("Suchen")

    page.locator('a[hreflang="en"]').click()
    expect(html).to_have_attribute("lang", "en")
    assert re.search(r"/\?q=twinning$", page.url), f"not back on the search: {page.url}"
    expect(search_button).to_have_text("Search")
    expect(page.locator('a[hreflang="en"]')).to_have_count(0)

    # The next page is English too: the choice is remembered, not only the redirect.
    page.locator("ol.results h2 a", has_text="Town twinning").click()
    page.wait_for_url(f"**/calls/{seeded.twinning}")
    expect(html).to_have_attribute("lang", "en")
    expect(page.locator("dl.facts")).to_contain_text("Association / NGO")

    page.locator('a[hreflang="de"]').click()
    expect(html).to_have_attribute("lang", "de")
    assert page.url.endswith(f"/calls/{seeded.twinning}"), f"not back on the call: {page.url}"
    expect(page.locator("dl.facts")).to_contain_text("Verein / NGO")
    page.goto("/")
    expect(html).to_have_attribute("lang", "de")
