"""A visitor subscribes to a search from the search page: the search's words and filters are
what is saved, exactly one confirmation waits in the outbox, its link confirms and leads to
the manage page. Every page on the way passes axe and fits a phone."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.call_filters import CallFilter
from storage.models import Notification, Subscription

TEXT = {
    "de": {
        "apply": "Filter anwenden",
        "subscribe": "Diese Suche abonnieren",
        "pending": "Fast geschafft",
        "confirmed": "Danke",
    },
    "en": {
        "apply": "Apply filters",
        "subscribe": "Subscribe to this search",
        "pending": "Almost done",
        "confirmed": "Thank you",
    },
}


def check(page, axe, format_violations, assert_no_horizontal_overflow) -> None:  # type: ignore[no-untyped-def]
    violations = axe(page)
    assert not violations, f"axe on {page.url}:\n" + format_violations(violations)
    assert_no_horizontal_overflow(page)
    assert page.foerderdesk.foreign_requests == []


@pytest.mark.parametrize(("width", "lang"), [(1280, "de"), (360, "en")])
def test_visitor_subscribes_to_a_search_from_the_search_page(  # type: ignore[no-untyped-def]
    width: int,
    lang: str,
    session: Session,
    seeded,
    new_page,
    screenshot,
    axe,
    format_violations,
    assert_no_horizontal_overflow,
) -> None:
    words = TEXT[lang]
    page = new_page(width=width, lang=lang)
    page.goto("/")
    page.fill("#q", "Städtepartnerschaft")
    page.locator("#q").press("Enter")
    page.wait_for_url(re.compile(r"[?&]q=St"))
    page.select_option("#f-applicant", "ngo")
    page.get_by_role("button", name=words["apply"]).click()
    page.wait_for_url(re.compile(r"[?&]applicant=ngo"))

    box = page.locator("section.subscribe-box")
    box.scroll_into_view_if_needed()
    assert "Städtepartnerschaft" in box.inner_text()
    check(page, axe, format_violations, assert_no_horizontal_overflow)
    page.get_by_label(re.compile("E-Mail-Adresse|email address")).fill("verein@example.org")
    page.select_option("#subscribe-frequency", "daily")
    screenshot(page, "form")
    page.get_by_role("button", name=words["subscribe"]).click()
    page.wait_for_url("**/subscriptions/pending")
    assert page.locator("h1").inner_text().startswith(words["pending"])
    check(page, axe, format_violations, assert_no_horizontal_overflow)
    screenshot(page, "pending")

    session.expire_all()
    subscription = session.scalars(select(Subscription)).one()
    expected = CallFilter(text="Städtepartnerschaft", applicant_type="ngo")
    assert subscription.query == expected.to_dict()
    assert (subscription.email, subscription.frequency, subscription.language) == (
        "verein@example.org",
        "daily",
        lang,
    )
    [message] = session.scalars(select(Notification)).all()
    assert (message.kind, message.period) == ("confirm", f"confirm {subscription.id}")
    link = re.search(r"https?://\S+/subscriptions/confirm/\S+", message.body_text)
    assert link, message.body_text

    page.goto(urlsplit(link.group(0)).path)
    assert page.locator("h1").inner_text().startswith(words["confirmed"])
    check(page, axe, format_violations, assert_no_horizontal_overflow)
    session.expire_all()
    assert session.get(Subscription, subscription.id).confirmed_at is not None  # type: ignore[union-attr]

    page.locator("a[href*='/subscriptions/manage/']").click()
    page.wait_for_url("**/subscriptions/manage/**")
    assert "Städtepartnerschaft" in page.locator("ul.subscriptions").inner_text()
    check(page, axe, format_violations, assert_no_horizontal_overflow)
