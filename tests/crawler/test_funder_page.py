"""The generic funder-page spider with every configuration shipped in the sources file,
each on a test page written in the shape the research describes (offline)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.exceptions import CloseSpider
from scrapy.http import HtmlResponse
from twisted.python.failure import Failure

from crawler.items import FundingCallItem
from crawler.normalize.applicants import map_applicants
from crawler.normalize.dates import parse_deadline
from crawler.normalize.money import parse_amount_eur, parse_funding_rate
from crawler.sources import load_sources
from crawler.spiders.funder_page import FunderPageSpider

DATA = Path(__file__).parents[1] / "data" / "crawler" / "funder_page"
ENTRIES = {e.slug: e for e in load_sources() if e.spider == "funder_page"}


def _spider(slug: str, **overrides: Any) -> FunderPageSpider:
    return FunderPageSpider(source=slug, config={**ENTRIES[slug].settings, **overrides})


def _parse(spider: FunderPageSpider, name: str | None = None) -> list[Any]:
    url = spider.page_url()
    body = (DATA / f"{name or spider.source}.html").read_bytes()
    response = HtmlResponse(url=url, body=body, encoding="utf-8", request=Request(url))
    return list(spider.parse(response, page_url=url))


def _items(slug: str) -> list[FundingCallItem]:
    return [i for i in _parse(_spider(slug)) if isinstance(i, FundingCallItem)]


def test_at_least_five_funders_are_configured() -> None:
    assert len(ENTRIES) >= 5
    for entry in ENTRIES.values():
        assert (DATA / f"{entry.slug}.html").exists(), entry.slug
        assert entry.settings["url"].startswith("https://")


@pytest.mark.parametrize("slug", sorted(set(ENTRIES) - {"skew"}))
def test_every_call_on_the_page_is_a_complete_item(slug: str) -> None:
    items = _items(slug)
    assert len(items) >= 2
    assert len({i.source_id for i in items}) == len(items)  # one key per call
    for item in items:
        assert item.source == slug
        assert item.source_id and item.url.startswith("https://") and item.title
        for deadline in item.deadlines:
            parse_deadline(deadline["raw"])
        parse_amount_eur(item.grant_max_raw)
        parse_funding_rate(item.funding_rate_raw)


def test_aktion_mensch_offers_share_one_page_and_are_rolling() -> None:
    first, _, campaign = _items("aktion_mensch")
    page = "https://www.aktion-mensch.de/foerderung/angebote/foerderfinder"
    assert first.source_id == f"{page}#inklusionsprojekte"
    assert first.title == "Inklusionsprojekte"
    assert parse_deadline(first.deadlines[0]["raw"]).rolling
    assert parse_amount_eur(first.grant_max_raw) == 450_000
    assert parse_funding_rate(first.funding_rate_raw) == 70.0
    assert map_applicants(first.applicants_raw) == ["ngo"]
    assert first.funder == "Aktion Mensch e.V."
    assert [d["raw"] for d in campaign.deadlines] == ["31.03.2026"]


def test_urbact_deadlines_keep_their_time_and_zone() -> None:
    apn, itn = _items("urbact")
    assert apn.url == "https://urbact.eu/calls/call-action-planning-networks"
    assert apn.deadlines[0]["raw"] == "31/03/2023 15:00 CEST"
    due = parse_deadline(apn.deadlines[0]["raw"]).due_at
    assert due is not None and due.isoformat() == "2023-03-31T13:00:00+00:00"
    # "up to 9 partners" is not money; the grant is "up to EUR 850,000".
    assert parse_amount_eur(apn.grant_max_raw) == 850_000
    assert itn.programme == "URBACT IV"


def test_eui_closed_call_is_marked_and_budget_is_separate_from_grant() -> None:
    fourth, second = _items("eui")
    assert fourth.status_source == ""
    assert second.status_source == "closed"
    assert parse_amount_eur(fourth.budget_raw) == 60_000_000
    assert parse_amount_eur(fourth.grant_max_raw) == 5_000_000
    assert parse_funding_rate(fourth.funding_rate_raw) == 80.0
    assert second.grant_max_raw is None  # "budget EUR 120 million" is the call's, not a grant


def test_nbank_applicants_and_expired_programmes() -> None:
    innenstaedte, landschaft, expired = _items("nbank")
    assert innenstaedte.url == (
        "https://www.nbank.de/F%C3%B6rderprogramme/Aktuelle-F%C3%B6rderprogramme/"
        "Resiliente-Innenst%C3%A4dte.html"
    )
    assert map_applicants(innenstaedte.applicants_raw) == ["municipality"]
    assert map_applicants(landschaft.applicants_raw) == ["municipality", "ngo", "company"]
    assert [d["raw"] for d in innenstaedte.deadlines] == ["31.03.2026"]
    assert parse_funding_rate(innenstaedte.funding_rate_raw) == 70.0
    assert parse_deadline(landschaft.deadlines[0]["raw"]).rolling
    assert expired.status_source == "closed"


def test_dbu_themes_default_to_rolling_and_calls_keep_their_date() -> None:
    klima, _, hitze = _items("dbu")
    assert klima.deadlines == [{"raw": "laufend", "stage": "", "label": ""}]
    assert [d["raw"] for d in hitze.deadlines] == ["30. Juni 2026"]


def test_detail_pages_are_followed_and_complete_the_item() -> None:
    spider = _spider("skew")
    requests = _parse(spider)
    assert [r.url for r in requests] == [
        "https://skew.engagement-global.de/kleinprojektefonds.html",
        "https://skew.engagement-global.de/unterstuetzung-durch-nakopa.html",
    ]
    listed = requests[0].cb_kwargs["item"]
    assert listed.status_source == "closed"  # "Die Frist ... ist abgelaufen"
    detail = HtmlResponse(
        url=requests[0].url,
        body=(DATA / "skew_detail_kleinprojektefonds.html").read_bytes(),
        encoding="utf-8",
        request=requests[0],
    )
    (item,) = spider.parse_detail(detail, **requests[0].cb_kwargs)
    assert item.title == "Kleinprojektefonds kommunale Entwicklungspolitik"
    assert [parse_deadline(d["raw"]).recurring_month_day for d in item.deadlines] == ["10-15"]
    assert "Antragsberechtigt sind Kommunalverwaltungen" in item.conditions_html
    assert "Förderquote beträgt bis zu 90 Prozent" in item.description_html
    assert map_applicants(item.applicants_raw) == ["municipality"]


def test_nakopa_two_stage_dates_are_both_kept() -> None:
    nakopa = _parse(_spider("skew"))[1].cb_kwargs["item"]
    assert [d["raw"] for d in nakopa.deadlines] == ["31.07.2026", "30.09.2026"]


def test_failed_detail_page_keeps_the_listed_call() -> None:
    spider = _spider("skew")
    request = _parse(spider)[0]
    failure = Failure(TimeoutError("detail timed out"))
    failure.request = request  # type: ignore[attr-defined]
    (item,) = spider.detail_failed(failure)
    assert item.title.startswith("Kleinprojektefonds")


def test_page_that_changed_shape_closes_the_spider() -> None:
    spider = _spider("urbact", item="div.no-such-card")
    with pytest.raises(CloseSpider) as caught:
        _parse(spider)
    assert caught.value.reason.startswith("blocked: 'div.no-such-card' matched 0 calls")


def test_changed_call_keeps_its_key_so_the_change_is_recorded() -> None:
    before = _items("urbact")
    html = (DATA / "urbact.html").read_text(encoding="utf-8")
    changed = html.replace("31/03/2023 15:00 CEST", "14/04/2023 15:00 CEST")
    spider = _spider("urbact")
    url = spider.page_url()
    after = list(spider.parse(HtmlResponse(url=url, body=changed, encoding="utf-8")))
    assert [i.source_id for i in after] == [i.source_id for i in before]
    assert after[0].deadlines[0]["raw"] == "14/04/2023 15:00 CEST"
