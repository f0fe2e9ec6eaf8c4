"""The call list in a real browser: Debian's chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from tests.storage.factories import make_call

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = pytest.mark.browser
if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
    pytestmark = [
        pytest.mark.browser,
        pytest.mark.skip(reason="Debian's chromium is not installed"),
    ]


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def page(live_url: str):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context = browser.new_context(base_url=live_url, locale="de-DE")
        yield context.new_page()
        context.close()
        browser.close()


def test_person_searches_calls_and_opens_one(page, session: Session) -> None:  # type: ignore[no-untyped-def]
    due = datetime.now(UTC) + timedelta(days=40)
    make_call(
        session,
        title="Town twinning for citizens",
        status="open",
        deadlines=[due],
        description="<p>Meetings of citizens from twinned towns.</p>",
        eligible_applicants=["municipality"],
    )
    make_call(session, title="LIFE nature and biodiversity", status="open", deadlines=[due])
    session.commit()

    page.goto("/")
    assert page.locator("#result-count").inner_text() == "2 Ausschreibungen"
    page.fill("#q", "twinning")
    page.click("button[type=submit]")
    assert page.locator("#result-count").inner_text() == "1 Ausschreibung"
    page.click("text=Town twinning for citizens")
    page.wait_for_url("**/calls/*")
    assert page.locator("h1").inner_text() == "Town twinning for citizens"
    assert "Meetings of citizens from twinned towns." in page.locator(".description").inner_text()
    assert "Kommune" in page.locator("dl.facts").inner_text()
