"""Every public page, in German and English, wide and at phone width: axe-core finds no
violation, nothing sticks out sideways, and the page asks no other origin for anything."""

from __future__ import annotations

from urllib.parse import quote

import pytest

# name -> (path, expected status); "{twinning}" is the seeded two-stage EU call.
PAGES = {
    "search": ("/", 200),
    "search-results": ("/?q=" + quote("Städtepartnerschaft"), 200),
    "search-filtered": ("/?q=youth&applicant=ngo&unstated=1&status=open&status=closed", 200),
    "search-empty": ("/?q=" + quote("Unterwasserarchäologie Atlantis"), 200),
    "call": ("/calls/{twinning}", 200),
    "call-german": ("/calls/{climate}", 200),
    "login": ("/login", 200),
    "not-found": ("/gibt-es-nicht", 404),
    "api-docs": ("/api/v1/docs", 200),
}

OPEN_DETAILS = "() => document.querySelectorAll('details').forEach(d => { d.open = true; })"


@pytest.mark.parametrize("lang", ["de", "en"])
@pytest.mark.parametrize("width", [1280, 360])
@pytest.mark.parametrize("name", list(PAGES))
def test_public_page_has_no_axe_violations_and_fits(  # type: ignore[no-untyped-def]
    name: str,
    width: int,
    lang: str,
    seeded,
    client,
    new_page,
    axe,
    format_violations,
    assert_no_horizontal_overflow,
) -> None:
    path, status = PAGES[name]
    if name == "api-docs" and client.get(path).status_code == 404:
        pytest.skip(f"{path} answers 404: the API docs page is not built yet")
    page = new_page(width=width, lang=lang)
    response = page.goto(path.format(twinning=seeded.twinning, climate=seeded.climate))
    assert response is not None
    assert response.status == status, f"{page.url} answered {response.status}"
    if name != "api-docs":  # the docs may well be English only; axe checks they say so
        assert page.locator("html").get_attribute("lang") == lang

    # Folded filters are opened, so that they are checked (and photographed) too.
    page.evaluate(OPEN_DETAILS)
    violations = axe(page)
    assert not violations, f"axe on {page.url} ({width} px, {lang}):\n" + format_violations(
        violations
    )
    assert_no_horizontal_overflow(page)
    assert page.foerderdesk.foreign_requests == []


def test_axe_runs_and_reports_what_it_finds(new_page, axe) -> None:  # type: ignore[no-untyped-def]
    """The helper really runs axe: a page with a nameless image and button fails."""
    page = new_page(width=360, lang="en")
    page.goto("/login")
    page.evaluate(
        """() => document.querySelector("main").insertAdjacentHTML(
            "beforeend", '<img src="/static/none.png"><button></button>')"""
    )
    ids = {v["id"] for v in axe(page)}
    assert {"image-alt", "button-name"} <= ids


def test_overflow_check_catches_a_too_wide_page(  # type: ignore[no-untyped-def]
    new_page, assert_no_horizontal_overflow
) -> None:
    page = new_page(width=360, lang="de")
    page.goto("/login")
    assert_no_horizontal_overflow(page)
    page.evaluate(
        """() => document.querySelector("main").insertAdjacentHTML(
            "beforeend", '<div class="too-wide" style="width: 600px">x</div>')"""
    )
    with pytest.raises(AssertionError, match=r"div\.too-wide"):
        assert_no_horizontal_overflow(page)
