"""The public pages in a real browser: Debian's chromium, driven by Playwright.

Every test gets the app on its own database (``app`` and ``session`` from the fixtures above),
served by a live server in a thread and seeded with a small, realistic set of calls. Pages
come from ``new_page(width=..., lang=...)``: a fresh browser context at 1280 or 360 px, with
the locale of a German or a British reader. ``axe(page)`` runs axe-core from
``node_modules`` (``npm ci``; never a CDN), ``assert_no_horizontal_overflow(page)`` checks
the page fits its width, and each page's last state is kept as a screenshot under
``test-artifacts/screenshots/<test>-<width>-<lang>.png`` (``FOERDERDESK_ARTIFACTS`` moves
``test-artifacts``).

Every test here is marked ``browser``. Without chromium the tests are skipped, except in CI
(``CI`` set), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from storage.models import CallChange
from tests.storage.factories import make_call

HERE = Path(__file__).parent
REPO = HERE.parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
AXE_JS = REPO / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = (1280, 360)
LOCALES = {"de": "de-DE", "en": "en-GB"}
BRUSSELS = ZoneInfo("Europe/Brussels")


# --- marks: every test in this package drives chromium --------------------------------------
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = not os.path.exists(CHROMIUM) and not os.environ.get("CI")
    for item in items:
        if HERE not in item.path.parents:
            continue
        item.add_marker(pytest.mark.browser)
        if missing:
            item.add_marker(pytest.mark.skip(reason=f"Debian's chromium is not at {CHROMIUM}"))


# --- the seeded calls -----------------------------------------------------------------------
def brussels(days: int, hour: int = 17) -> datetime:
    """``days`` from today at ``hour`` o'clock Brussels time (EU deadlines are 17:00 CET)."""
    day = datetime.now(UTC).astimezone(BRUSSELS).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, tzinfo=BRUSSELS).astimezone(UTC)


@dataclass(frozen=True)
class Seeded:
    """The ids of the seeded calls, and the deadlines of the two-stage one."""

    twinning: int
    youth: int
    climate: int
    closed: int
    unstated: int
    quantum: int
    twinning_stages: tuple[datetime, datetime]


def seed_calls(session: Session) -> Seeded:
    stages = (brussels(45), brussels(120))
    twinning = make_call(
        session,
        source="eu_ft",
        source_id="CERV-2026-CITIZENS-TOWN-TT",
        call_identifier="CERV-2026-CITIZENS-TOWN-TT",
        title="Town twinning – citizens of twinned towns meet (CERV-2026-CITIZENS-TOWN-TT)",
        language="en",
        funder="European Commission (EACEA)",
        funder_type="eu",
        programme="Citizens, Equality, Rights and Values (CERV)",
        type_of_action="CERV Lump Sum Grants",
        status="open",
        deadline_model="two_stage",
        deadlines=list(stages),
        opening_date=(datetime.now(UTC) - timedelta(days=10)).date(),
        summary="Town twinning brings together citizens from different countries to debate "
        "the European project and strengthen friendship between municipalities.",
        description=(
            "<p>Town twinning projects bring together citizens of twinned towns from at least "
            "two eligible countries. Activities include debates, workshops and cultural "
            "events on the future of Europe.</p>"
            "<ul><li>at least 25 participants from invited towns</li>"
            "<li>events of up to 21 days</li></ul>"
            "<table><tr><th>Participants</th><th>Lump sum</th></tr>"
            "<tr><td>25–50</td><td>EUR 10 000</td></tr>"
            "<tr><td>more than 100</td><td>EUR 60 000</td></tr></table>"
            "<p>Guide: https://ec.europa.eu/info/funding-tenders/opportunities/docs/2021-2027/"
            "cerv/wp-call/2026/call-fiche_cerv-2026-citizens-town-tt_en.pdf</p>"
        ),
        description_text="Town twinning projects bring together citizens of twinned towns.",
        conditions="<p>Applicants must be towns or municipalities, their twinning committees "
        "or non-profit organisations representing local authorities.</p>",
        eligible_applicants=["municipality", "ngo"],
        grant_min_eur=10_000,
        grant_max_eur=60_000,
        budget_eur=4_500_000,
        funding_rate=90.0,
        url="https://ec.europa.eu/info/funding-tenders/opportunities/portal/screen/"
        "opportunities/topic-details/cerv-2026-citizens-town-tt",
    )
    twinning.changes.append(
        CallChange(
            field="grant_max_eur",
            old_value="50000",
            new_value="60000",
            changed_at=datetime.now(UTC) - timedelta(days=3),
        )
    )
    youth = make_call(
        session,
        source="eu_ft",
        source_id="ERASMUS-YOUTH-2026-YOU-EXCH",
        call_identifier="KA152-YOU",
        title="Erasmus+ Youth exchanges (KA152-YOU)",
        language="en",
        funder="European Commission (EACEA)",
        funder_type="eu",
        programme="Erasmus+",
        status="open",
        deadlines=[brussels(60, 12)],
        summary="Youth exchanges let groups of young people from at least two countries meet "
        "and live together for up to 21 days.",
        description="<p>Non-formal learning for young people aged 13 to 30.</p>",
        eligible_applicants=["ngo"],
        grant_max_eur=50_000,
    )
    climate = make_call(
        session,
        source="foerderdatenbank",
        source_id="klimaanpassung-soziale-einrichtungen",
        title="Klimaanpassung in sozialen Einrichtungen",
        language="de",
        funder="Bundesministerium für Umwelt, Klimaschutz, Naturschutz und nukleare Sicherheit",
        funder_type="federal",
        programme="Bundesprogramm Klimaanpassung",
        status="open",
        deadlines=[brussels(90, 23)],
        summary="Gefördert werden Maßnahmen, mit denen Krankenhäuser, Pflegeheime, "
        "Kindertagesstätten und Einrichtungen der Behindertenhilfe sich an Hitze, "
        "Starkregen und Trockenheit anpassen.",
        description="<p>Verschattung, Begrünung, Entsiegelung und Hitzeschutzpläne.</p>",
        eligible_applicants=["municipality", "ngo", "public_body"],
        grant_min_eur=200_000,
        grant_max_eur=5_000_000,
        funding_rate=80.0,
    )
    closed = make_call(
        session,
        source="eu_ft",
        source_id="LIFE-2025-SAP-NAT",
        title="LIFE Nature and Biodiversity 2025",
        language="en",
        funder="European Climate, Infrastructure and Environment Executive Agency",
        funder_type="eu",
        programme="LIFE",
        status="closed",
        deadlines=[brussels(-30)],
        summary="Standard action projects for nature conservation.",
        eligible_applicants=["municipality", "ngo", "company"],
    )
    unstated = make_call(
        session,
        source="stiftungen",
        source_id="kulturfonds-2026",
        title="Kulturfonds Niedersachsen: Projektförderung 2026",
        language="de",
        funder="Stiftung Niedersachsen",
        funder_type="foundation",
        status="open",
        deadline_model="recurring",
        deadlines=[brussels(75)],
        summary="Kunst- und Kulturprojekte mit Bezug zu Niedersachsen.",
        eligible_applicants=[],
    )
    quantum = make_call(
        session,
        source="eu_ft",
        source_id="EDF-2026-RA-QUANTUM",
        call_identifier="EDF-2026-RA-QUANTUM",
        title="Quantum technologies for defence applications (EDF-2026-RA-QUANTUM)",
        language="en",
        funder="European Commission (DG DEFIS)",
        funder_type="eu",
        programme="European Defence Fund",
        status="open",
        deadlines=[brussels(100)],
        summary="Quantum sensing and navigation for defence research actions.",
        eligible_applicants=["company", "research"],
        grant_max_eur=25_000_000,
    )
    session.commit()
    return Seeded(
        twinning=twinning.id,
        youth=youth.id,
        climate=climate.id,
        closed=closed.id,
        unstated=unstated.id,
        quantum=quantum.id,
        twinning_stages=stages,
    )


@pytest.fixture
def seeded(session: Session) -> Seeded:
    return seed_calls(session)


# --- the live server ------------------------------------------------------------------------
@pytest.fixture
def live_url(app: Flask, seeded: Seeded) -> Iterator[str]:
    """The app on the test's (seeded) database, served in a thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# --- chromium -------------------------------------------------------------------------------
# Package scope: Playwright's sync API marks an asyncio loop as running while it lives, which
# other packages' tests (asyncio.run) must not see.
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Debian's chromium is not at {CHROMIUM} (CI is set: it must be installed)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def artifacts_dir(config: pytest.Config) -> Path:
    """Where screenshots go: ``$FOERDERDESK_ARTIFACTS/screenshots``, by default under
    ``test-artifacts/`` at the repository root."""
    base = os.environ.get("FOERDERDESK_ARTIFACTS")
    root = Path(base) if base else config.rootpath / "test-artifacts"
    return root / "screenshots"


def _test_name(request: pytest.FixtureRequest) -> str:
    """The test's name plus its parameters other than width and language."""
    node = request.node
    params = getattr(getattr(node, "callspec", None), "params", {})
    parts = [node.originalname] + [
        str(value) for key, value in params.items() if key not in ("width", "lang")
    ]
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "-".join(parts))


@dataclass
class PageInfo:
    """What the factory knows of a page it made (kept as ``page.foerderdesk``)."""

    test: str
    width: int
    lang: str
    artifacts: Path
    foreign_requests: list[str] = field(default_factory=list)


def screenshot(page: Any, step: str = "") -> Path:
    """Keep what ``page`` shows now (the whole page) as a test artefact:
    ``<test>[-<step>]-<width>-<lang>.png``."""
    info: PageInfo = page.foerderdesk
    name = "-".join(p for p in (info.test, step) if p)
    path = info.artifacts / f"{name}-{info.width}-{info.lang}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


NewPage = Callable[..., Any]


@pytest.fixture
def new_page(browser: Any, live_url: str, request: pytest.FixtureRequest) -> Iterator[NewPage]:
    """``new_page(width=1280, lang="de")``: a page in a fresh context (own cookies) on the live
    server, with the locale of a reader of ``lang``. Requests to any other origin are aborted
    and listed in ``page.foerderdesk.foreign_requests``. When the test ends, each page's last
    state is saved as a screenshot."""
    contexts: list[Any] = []
    pages: list[Any] = []

    def make(width: int = 1280, lang: str = "de") -> Any:
        context = browser.new_context(
            base_url=live_url,
            viewport={"width": width, "height": 800},
            locale=LOCALES[lang],
            timezone_id="Europe/Berlin",
            bypass_csp=True,  # axe-core is injected as a script the app's CSP would refuse
            accept_downloads=True,
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        info = PageInfo(_test_name(request), width, lang, artifacts_dir(request.config))
        page.foerderdesk = info

        def block(route: Any) -> None:
            info.foreign_requests.append(route.request.url)
            route.abort()

        page.route(lambda url: not url.startswith(live_url + "/"), block)
        pages.append(page)
        return page

    yield make
    for page in pages:
        if not page.is_closed():
            screenshot(page)
    for context in contexts:
        context.close()


# --- checks ---------------------------------------------------------------------------------
AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(" "), summary: n.failureSummary})),
  }));
}"""


def axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on ``page`` (every rule axe runs by default)."""
    if not AXE_JS.exists():
        pytest.fail(f"{AXE_JS} is missing: run `npm ci --no-audit --no-fund` (make install)")
    page.add_script_tag(path=str(AXE_JS))
    return page.evaluate(AXE_RUN)


def format_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"]:
            summary = " ".join(node["summary"].split())
            lines.append(f"    {node['target']}: {summary}")
    return "\n".join(lines)


OVERFLOW = """() => {
  const width = window.innerWidth;
  const wide = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 0.5) {
      const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
        + (el.classList.length ? "." + [...el.classList].join(".") : "");
      wide.push(`${name} (right edge at ${Math.round(box.right)} px)`);
    }
  }
  return {scroll: document.documentElement.scrollWidth, width, wide: wide.slice(0, 10)};
}"""


def assert_no_horizontal_overflow(page: Any) -> None:
    """The page is no wider than the window: nothing to scroll sideways."""
    found = page.evaluate(OVERFLOW)
    assert found["scroll"] <= found["width"], (
        f"{page.url} is {found['scroll']} px wide in a {found['width']} px window; "
        f"too wide: {', '.join(found['wide']) or '(none found)'}"
    )


# The helpers as fixtures, so that tests need not import this file.
@pytest.fixture(name="axe")
def axe_fixture() -> Callable[[Any], list[dict[str, Any]]]:
    return axe


@pytest.fixture(name="screenshot")
def screenshot_fixture() -> Callable[..., Path]:
    return screenshot


@pytest.fixture(name="assert_no_horizontal_overflow")
def overflow_fixture() -> Callable[[Any], None]:
    return assert_no_horizontal_overflow


@pytest.fixture(name="format_violations")
def format_violations_fixture() -> Callable[[list[dict[str, Any]]], str]:
    return format_violations
