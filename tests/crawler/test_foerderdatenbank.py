"""The Förderdatenbank spider on saved list and detail pages (offline)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from scrapy import Request
from scrapy.exceptions import CloseSpider
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler.items import FundingCallItem
from crawler.normalize.applicants import map_applicants
from crawler.normalize.dates import parse_deadline
from crawler.spiders.foerderdatenbank import FoerderdatenbankSpider

DATA = Path(__file__).parents[1] / "data" / "crawler" / "foerderdatenbank"
SITE = "https://www.foerderdatenbank.de/"
LIST_URL = (
    SITE + "SiteGlobals/FDB/Forms/Suche/Foederprogrammsuche_Formular.html"
    "?queryResultId=null&pageNo=0&filterCategories=FundingProgram"
)
DETAILS = {
    "foerderdatenbank_detail.html": "Bund/BMWi/exist-women-2024",
    "foerderdatenbank_detail_tabs.html": "Land/Thueringen/beteiligungen-thueringen-mbg-express",
    "foerderdatenbank_detail_codes_ascii.html": "Land/Hessen/fue-unternehmen-hessen-864943",
    "foerderdatenbank_detail_rechtsgrundlage_only.html": (
        "Land/Thueringen/schulbezogene-jahresprogramme-bne"
    ),
}


def _page(name: str, url: str) -> HtmlResponse:
    return HtmlResponse(
        url=url, body=(DATA / name).read_bytes(), encoding="utf-8", request=Request(url)
    )


def _detail_url(source_id: str) -> str:
    return f"{SITE}FDB/Content/DE/Foerderprogramm/{source_id}.html"


@pytest.fixture
def spider() -> FoerderdatenbankSpider:
    return FoerderdatenbankSpider(source="foerderdatenbank", config={})


def _item(spider: FoerderdatenbankSpider, name: str) -> FundingCallItem:
    url = _detail_url(DETAILS[name])
    (item,) = spider.parse_detail(_page(name, url), page_url=url)
    return item


def test_list_page_requests_every_detail_page_and_the_next_page(
    spider: FoerderdatenbankSpider,
) -> None:
    requests = list(spider.parse(_page("foerderdatenbank_list.html", LIST_URL)))
    details = [r for r in requests if r.callback == spider.parse_detail]
    pages = [r for r in requests if r.callback == spider.parse]
    assert len(details) == 10
    assert details[0].url == _detail_url("Land/Sachsen/buergschaft-sachsen-beteiligung")
    assert details[0].cb_kwargs["card_applicants"] == ["Existenzgründer/in", "Unternehmen"]
    assert all(r.url.startswith(SITE + "FDB/Content/DE/Foerderprogramm/") for r in details)
    (next_page,) = pages
    # The "weiter" href is followed as it is, session token and all.
    assert "gtp=%2526816beae2-d57e-4bdc-b55d-392bc1e17027_list%253D2" in next_page.url
    assert next_page.cb_kwargs == {"page": 2}


def test_pagination_stops_at_the_configured_page_limit() -> None:
    spider = FoerderdatenbankSpider(source="foerderdatenbank", config={"max_list_pages": 2})
    requests = list(spider.parse(_page("foerderdatenbank_list.html", LIST_URL), page=2))
    assert not [r for r in requests if r.callback == spider.parse]


def test_list_urls_carry_the_configured_filters() -> None:
    spider = FoerderdatenbankSpider(
        source="foerderdatenbank",
        config={
            "filters": {
                "cl2Processes_Foerdergebiet": "de_ni",
                "cl2Processes_Foerderberechtigte": ["kommune", "verband_vereinigung"],
            }
        },
    )
    queries = [parse_qs(urlsplit(url).query) for url in spider.list_urls()]
    assert [q["cl2Processes_Foerderberechtigte"] for q in queries] == [
        ["kommune"],
        ["verband_vereinigung"],
    ]
    assert all(q["cl2Processes_Foerdergebiet"] == ["de_ni"] for q in queries)
    assert all(q["filterCategories"] == ["FundingProgram"] for q in queries)
    assert [r.url for r in spider.list_requests()] == spider.list_urls()


def test_detail_page_fields(spider: FoerderdatenbankSpider) -> None:
    item = _item(spider, "foerderdatenbank_detail.html")
    assert item.source == "foerderdatenbank"
    assert item.source_id == "Bund/BMWi/exist-women-2024"
    assert item.url == _detail_url("Bund/BMWi/exist-women-2024")
    assert item.title.startswith("Förderung von Unternehmerinnen in der Vorgründungsphase")
    assert item.title.endswith("„Existenzgründungen aus der Wissenschaft“")
    assert item.type_of_action == "Zuschuss"
    assert item.keywords == [
        "Beratung",
        "Existenzgründung & -festigung",
        "Frauenförderung",
        "Forschung & Innovation (themenoffen)",
    ]
    assert item.regions == ["bundesweit"]
    assert item.applicants_raw == ["Forschungseinrichtung", "Hochschule"]
    assert item.funder == "Bundesministerium für Wirtschaft und Klimaschutz (BMWK)"
    assert item.funder_type == "federal"
    assert item.language == "de"
    assert "CC BY-ND" in item.attribution
    assert "spätestens bis zum 30.09. jeden Jahres" in item.description_html
    # Deadlines come from the prose; the directive's own date is not one.
    assert [d["raw"] for d in item.deadlines] == ["30.09. jeden Jahres", "06.12.2024"]


def test_tabs_split_into_description_and_conditions(spider: FoerderdatenbankSpider) -> None:
    item = _item(spider, "foerderdatenbank_detail_tabs.html")
    assert item.funder_type == "state"
    assert item.type_of_action == "Beteiligung"
    assert item.regions == ["Thüringen"]
    assert "Antragsberechtigt sind mittelständische Unternehmen" in item.conditions_html
    assert "Antragsberechtigt" not in item.description_html
    assert "Verbreiterung der" in item.description_html  # the Rechtsgrundlage tab
    assert item.summary.startswith("Wenn Sie Investitionen planen")
    assert (
        item.grant_max_raw
        == "Sie erhalten die Förderung als stille Beteiligung bis zu EUR 140.000."
    )


def test_raw_codes_and_ascii_labels_map_to_display_labels(
    spider: FoerderdatenbankSpider,
) -> None:
    item = _item(spider, "foerderdatenbank_detail_codes_ascii.html")
    assert item.type_of_action == "Zuschuss"
    assert item.keywords == ["Forschung & Innovation (themenspezifisch)"]
    assert item.regions == ["Hessen"]
    assert item.applicants_raw == ["Unternehmen"]
    assert item.funder.startswith("Hessisches Ministerium für Wirtschaft")


def test_yearly_deadlines_with_month_names(spider: FoerderdatenbankSpider) -> None:
    item = _item(spider, "foerderdatenbank_detail_rechtsgrundlage_only.html")
    assert item.applicants_raw == ["Bildungseinrichtung"]
    assert [parse_deadline(d["raw"]).recurring_month_day for d in item.deadlines] == [
        "03-31",
        "09-30",
    ]


@pytest.mark.parametrize("name", sorted(DETAILS))
def test_every_detail_item_is_complete_and_its_terms_parse(
    spider: FoerderdatenbankSpider, name: str
) -> None:
    item = _item(spider, name)
    assert item.source and item.source_id and item.url and item.title
    assert item.source_id == DETAILS[name]
    assert item.url.startswith(SITE)
    for deadline in item.deadlines:
        parse_deadline(deadline["raw"])  # raises if the pipeline could not read it
    assert map_applicants(item.applicants_raw), item.applicants_raw
    assert item.funder_type in ("federal", "state", "eu")


def test_captcha_page_closes_the_spider_with_a_reason(spider: FoerderdatenbankSpider) -> None:
    page = _page("foerderdatenbank_captcha_written_by_us.html", LIST_URL)
    with pytest.raises(CloseSpider) as caught:
        list(spider.parse(page))
    assert caught.value.reason.startswith("blocked: bot protection page")
    assert "Radware Captcha Page" in caught.value.reason
    with pytest.raises(CloseSpider) as caught:
        list(spider.parse_detail(page, page_url=_detail_url("Bund/x")))
    assert caught.value.reason.startswith("blocked: ")


def test_page_without_the_expected_selectors_closes_the_spider(
    spider: FoerderdatenbankSpider,
) -> None:
    page = HtmlResponse(
        url=LIST_URL, body=b"<html><title>Wartung</title><p>Bald wieder da</p></html>"
    )
    with pytest.raises(CloseSpider) as caught:
        list(spider.parse(page))
    assert re.match(r"blocked: expected .* missing", caught.value.reason)


def test_crawl_delay_of_robots_txt_is_the_default() -> None:
    crawler = get_crawler(FoerderdatenbankSpider)
    assert crawler.settings.getfloat("DOWNLOAD_DELAY") == 30.0
    assert crawler.settings.getfloat("DOWNLOAD_DELAY_JITTER") == 0.0
    assert crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") == 1


def test_crawl_delay_comes_from_the_source_settings() -> None:
    crawler = get_crawler(
        FoerderdatenbankSpider, {"FOERDERDESK_SOURCE": {"settings": {"download_delay": 45}}}
    )
    assert crawler.settings.getfloat("DOWNLOAD_DELAY") == 45.0
