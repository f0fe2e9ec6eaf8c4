"""The EU Funding & Tenders spider on saved responses: requests, pagination, items."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from scrapy import Request
from scrapy.exceptions import CloseSpider
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.internet.error import TimeoutError
from twisted.python.failure import Failure

from crawler.items import FundingCallItem
from crawler.pipelines import normalize_item
from crawler.spiders.eu_funding_tenders import (
    BOUNDARY,
    EuFundingTendersSpider,
    search_record_hash,
    stage_deadlines,
    topic_budget,
)
from storage.call_details import KnownDetails
from tests.crawler.conftest import EU_DATA, EU_MIRROR, json_response

PAGES = EU_MIRROR / "eu_ft_sedia"


def _page(n: int) -> dict:
    return json.loads((PAGES / f"search_page_{n}.json").read_text())


def _details(identifier: str) -> dict:
    name = identifier.replace("/", "_") + ".json"
    return json.loads((PAGES / "topic_details" / name).read_text())


def _split(outputs: list) -> tuple[list[Request], list[Request]]:
    details = [r for r in outputs if "topicDetails" in r.url]
    pages = [r for r in outputs if "rest/search" in r.url]
    return details, pages


def test_search_request_is_multipart_post_with_json_parts(
    eu_spider: EuFundingTendersSpider,
) -> None:
    request = eu_spider.search_request(2)
    assert request.method == "POST"
    assert request.url.startswith(
        "https://api.tech.ec.europa.eu/search-api/prod/rest/search?apiKey=SEDIA&text=***"
    )
    assert "pageNumber=2" in request.url
    assert request.headers[b"Content-Type"] == (
        f"multipart/form-data; boundary={BOUNDARY}".encode()
    )
    body = request.body.decode()
    for name in ("query", "languages", "sort"):
        assert f'name="{name}"; filename="blob"' in body
    query = json.loads(body.split('name="query"; filename="blob"')[1].split("\r\n")[3])
    must = query["bool"]["must"]
    assert {"terms": {"type": ["1", "2", "8"]}} in must
    assert {"terms": {"status": ["31094501", "31094502"]}} in must
    assert body.endswith(f"--{BOUNDARY}--\r\n")
    # the same shape as the portal's own request (the reconstructed capture)
    capture = (EU_DATA / "sedia_search_request_multipart.http").read_text()
    assert '{"order":"ASC","field":"deadlineDate"}' in capture
    assert '{"order":"ASC","field":"deadlineDate"}' in body


def test_pagination_follows_server_page_size_until_total(eu_spider: EuFundingTendersSpider) -> None:
    seen_pages = []
    for n in (1, 2, 3):
        request = eu_spider.search_request(n)
        details, pages = _split(list(eu_spider.parse_search(json_response(request, _page(n)), n)))
        assert len(details) == len(_page(n)["results"])
        seen_pages.append([p.cb_kwargs["page"] for p in pages])
    # the server answers 3 a page although 100 were asked for; 8 results: 3 pages, then stop
    assert seen_pages == [[2], [3], []]


def test_empty_page_ends_pagination(eu_spider: EuFundingTendersSpider) -> None:
    empty = json.loads(
        (
            EU_DATA.parent.parent.parent / "data/crawler/eu_funding_tenders/sedia_search_page1.json"
        ).read_text()
    )
    empty["results"] = []
    empty["totalResults"] = 500
    outputs = list(eu_spider.parse_search(json_response(eu_spider.search_request(4), empty), 4))
    assert outputs == []


def test_duplicates_within_and_across_pages_are_requested_once(
    eu_spider: EuFundingTendersSpider,
) -> None:
    real = json.loads((EU_DATA / "sedia_search_page1.json").read_text())
    first = list(eu_spider.parse_search(json_response(eu_spider.search_request(1), real), 1))
    details, _ = _split(first)
    identifiers = [r.meta["identifier"] for r in details]
    assert identifiers.count("HORIZON-INFRA-2024-EOSC-01-03") == 1
    assert len(identifiers) == 5  # six results, one of them twice
    again = list(eu_spider.parse_search(json_response(eu_spider.search_request(2), real), 2))
    assert _split(again)[0] == []
    assert eu_spider.crawler.stats.get_value("foerderdesk/dropped/duplicate") == 7


def test_captcha_page_closes_the_spider_as_blocked(eu_spider: EuFundingTendersSpider) -> None:
    request = eu_spider.search_request(1)
    captcha = json_response(request, "<html><body>Please verify you are a human</body></html>")
    with pytest.raises(CloseSpider) as closed:
        list(eu_spider.parse_search(captcha, 1))
    assert closed.value.reason.startswith("blocked: ")


def test_truncated_first_page_closes_the_spider_as_broken(
    eu_spider: EuFundingTendersSpider,
) -> None:
    body = (PAGES / "search_page_1.json").read_text()[:5000]
    with pytest.raises(CloseSpider) as closed:
        list(eu_spider.parse_search(json_response(eu_spider.search_request(1), body), 1))
    assert closed.value.reason.startswith("broken: ")


def test_town_twinning_item_field_by_field(eu_spider: EuFundingTendersSpider) -> None:
    eu_spider.programmes = {"43251589": "CERV"}
    result = _page(1)["results"][0]
    request = Request("https://ec.europa.eu/x.json", meta={"identifier": "x"})
    response = json_response(request, _details("CERV-2026-CITIZENS-TOWN-TT"))
    (item,) = list(eu_spider.parse_topic(response, result))
    assert isinstance(item, FundingCallItem)
    assert item.source == "eu_funding_tenders"
    assert item.source_id == "CERV-2026-CITIZENS-TOWN-TT"
    assert item.url == (
        "https://ec.europa.eu/info/funding-tenders/opportunities/portal/screen/opportunities/"
        "topic-details/cerv-2026-citizens-town-tt"
    )
    assert item.title == "Call Town Twinning 2026"
    assert item.programme == "CERV"
    assert item.call_identifier == "CERV-2026-CITIZENS-TOWN-TT"
    assert item.type_of_action == "CERV Lump Sum Grants"
    assert item.funder_type == "eu"
    assert item.status_source == "open"
    assert item.deadline_model == "single-stage"
    assert item.deadlines == [{"raw": "2026-09-23T00:00:00.000+0000", "stage": "", "label": ""}]
    assert "Town Twinning" in item.description_html or "twinning" in item.description_html
    assert item.conditions_html.startswith(
        _details("CERV-2026-CITIZENS-TOWN-TT")["TopicDetails"]["conditions"][:50]
    )
    assert "<h3>Support information</h3>" in item.conditions_html
    assert "Support information" not in item.eligibility_text
    assert "Local authorities" in item.keywords
    assert "CERV-2026-CITIZENS-TOWN-TT" not in item.keywords
    assert item.language == "en"
    assert "European Union" in item.attribution

    record = normalize_item(item)
    assert record.deadlines[0].due_at == datetime(2026, 9, 23, 15, 0, tzinfo=UTC)  # 17:00 CEST
    assert record.deadline_model == "single"


def test_two_stage_topic_keeps_both_deadlines_apart(eu_spider: EuFundingTendersSpider) -> None:
    real = json.loads((EU_DATA / "sedia_search_page1.json").read_text())
    soil = real["results"][0]
    item = eu_spider.build_item(soil, {})
    assert [(d["stage"], d["raw"][:10]) for d in item.deadlines] == [
        ("1", "2027-04-08"),
        ("2", "2027-09-14"),
    ]
    assert item.deadline_model == "two-stage"
    assert item.opening_date_raw.startswith("2027-02-04")
    # the budget map lists only SOIL-02: this topic's budget is unknown
    assert item.budget_raw is None
    record = normalize_item(item)
    assert record.deadline_model == "two_stage"
    assert [d.stage for d in record.deadlines] == ["1", "2"]


def test_budget_is_this_topics_own_share() -> None:
    real = json.loads((EU_DATA / "sedia_search_page1.json").read_text())
    overviews = {
        r["metadata"]["identifier"][0]: json.loads(r["metadata"]["budgetOverview"][0])
        for r in real["results"]
        if r["metadata"].get("budgetOverview")
    }
    governance = topic_budget(
        "HORIZON-CL6-2026-04-GOVERNANCE-01", overviews["HORIZON-CL6-2026-04-GOVERNANCE-01"]
    )
    assert governance["budget"] == 60_000_000  # 23 M (2026) + 37 M (2027)
    eccc = topic_budget(
        "HORIZON-CL3-2026-02-CS-ECCC-01", overviews["HORIZON-CL3-2026-02-CS-ECCC-01"]
    )
    assert (eccc["budget"], eccc["min"], eccc["max"], eccc["expected"]) == (
        20_000_000,
        3_000_000,
        4_000_000,
        5,
    )
    # only a sibling's entry: unknown, not the sibling's figure
    assert (
        topic_budget("HORIZON-JU-CBE-2026-IAFlag-02", overviews["HORIZON-JU-CBE-2026-IAFlag-02"])[
            "budget"
        ]
        is None
    )
    shared = {
        "budgetTopicActionMap": {
            "1": [{"action": "X-01 - RIA", "budgetYearMap": {"2026": "170760699"}}],
            "2": [{"action": "X-02 - RIA", "budgetYearMap": {"2026": "170760699"}}],
        }
    }
    assert topic_budget("X-01", shared)["budget"] is None  # a pot shared by siblings


def test_multiple_cutoffs_are_numbered() -> None:
    deadlines = stage_deadlines(["2026-03-17", "2026-09-17"], "multiple cut-off")
    assert [d["stage"] for d in deadlines] == ["cut-off 1", "cut-off 2"]


def test_legacy_record_links_to_the_portal_page(eu_spider: EuFundingTendersSpider) -> None:
    real = json.loads((EU_DATA / "sedia_search_page1.json").read_text())
    legacy = real["results"][-1]
    assert legacy["url"].endswith(".json")
    item = eu_spider.build_item(legacy, {})
    assert item.url.endswith("/topic-details/HORIZON-INFRA-2024-EOSC-01-03")
    assert item.status_source == "forthcoming"  # stale in the index; dates decide later


def test_reconstructed_topic_details_conditions_and_old_date_style(
    eu_spider: EuFundingTendersSpider,
) -> None:
    details = json.loads(
        (EU_DATA / "topic_details_CERV-2024-CITIZENS-TOWN-TT_reconstructed.json").read_text()
    )["TopicDetails"]
    result = {"metadata": {"identifier": [details["identifier"]], "type": ["1"]}}
    item = eu_spider.build_item(result, details)
    assert item.title == details["title"]
    assert item.deadlines and item.deadlines[0]["raw"] == details["actions"][0]["deadlineDates"][0]
    assert item.eligibility_text.startswith("<p>1.&nbsp;&nbsp; Eligible countries")
    record = normalize_item(item)
    # old portal style "19 September 2024": 17:00 Brussels time (CEST) = 15:00 UTC
    assert record.deadlines[0].due_at == datetime(2024, 9, 19, 15, 0, tzinfo=UTC)
    assert record.eligibility_inferred == bool(record.eligible_applicants)


def test_invariants_on_every_mirror_topic(eu_spider: EuFundingTendersSpider) -> None:
    items = []
    for n in (1, 2, 3):
        for result in _page(n)["results"]:
            identifier = result["metadata"]["identifier"][0]
            items.append(eu_spider.build_item(result, _details(identifier)["TopicDetails"]))
    assert len({i.source_id for i in items}) == 8
    for item in items:
        record = normalize_item(item)
        assert record.title and record.url.startswith("https://ec.europa.eu/")
        assert record.funder_type == "eu" and record.language == "en"
        assert record.programme and not record.programme.isdigit()
        assert "<script" not in record.description
        assert all(d.due_at is None or d.due_at.tzinfo is not None for d in record.deadlines)
        assert record.deadline_model in {"single", "two_stage", "multiple_cutoff", "none"}
        if record.budget_eur is not None:
            assert record.budget_eur > 0
        assert set(record.eligible_applicants) <= {
            "municipality",
            "public_body",
            "ngo",
            "company",
            "research",
            "education",
            "individual",
        }


# --- details: failures, incremental skipping, identifiers ---------------------------------
def _detail_requests(spider: EuFundingTendersSpider, n: int = 1) -> list[Request]:
    outputs = list(spider.parse_search(json_response(spider.search_request(n), _page(n)), n))
    return _split(outputs)[0]


def _items(outputs: list) -> list[FundingCallItem]:
    return [o for o in outputs if isinstance(o, FundingCallItem)]


def _known_fresh(spider: EuFundingTendersSpider, *pages: int) -> dict[str, KnownDetails]:
    """The store's view after a good run a day ago: every topic of ``pages`` fresh."""
    return {
        r["metadata"]["identifier"][0]: KnownDetails(
            search_record_hash(r), spider.now - timedelta(days=1), details_missing=False
        )
        for n in pages
        for r in _page(n)["results"]
    }


@pytest.mark.parametrize("status", [404, 500])
def test_details_answering_an_http_error_yield_the_topic_from_its_search_record(
    eu_spider: EuFundingTendersSpider, status: int
) -> None:
    request = _detail_requests(eu_spider)[0]
    result = request.cb_kwargs["result"]
    failure = Failure(HttpError(json_response(request, "injected fault", status=status)))
    failure.request = request  # as Scrapy hands it to an errback
    (item,) = _items(list(request.errback(failure)))
    assert item.details == "missing"
    assert item.source_id == "CERV-2026-CITIZENS-TOWN-TT"
    assert item.title == "Call Town Twinning 2026"
    assert item.deadlines == [{"raw": "2026-09-23T00:00:00.000+0000", "stage": "", "label": ""}]
    assert item.status_source == "open"
    assert item.conditions_html == ""  # nothing invented: the search record has none
    assert item.record_hash == search_record_hash(result)
    assert eu_spider.crawler.stats.get_value("foerderdesk/details_missing") == 1

    record = normalize_item(item)
    assert record.details_missing and not record.details_fetched
    assert record.record_hash == item.record_hash


def test_details_timing_out_yield_the_topic_from_its_search_record(
    eu_spider: EuFundingTendersSpider,
) -> None:
    request = _detail_requests(eu_spider)[1]
    failure = Failure(TimeoutError("Getting took longer than 1.0 seconds."))
    failure.request = request
    (item,) = _items(list(request.errback(failure)))
    assert (item.source_id, item.details) == ("ERC-2026-POC", "missing")


@pytest.mark.parametrize("body", ['{"TopicDetails": {"ti', '{"message": "no such topic"}', "[]"])
def test_details_that_are_not_topic_details_yield_the_search_record(
    eu_spider: EuFundingTendersSpider, body: str
) -> None:
    request = _detail_requests(eu_spider)[0]
    (item,) = _items(list(request.callback(json_response(request, body), **request.cb_kwargs)))
    assert item.details == "missing"
    assert item.title == "Call Town Twinning 2026"


def test_details_that_arrive_are_marked_fetched(eu_spider: EuFundingTendersSpider) -> None:
    request = _detail_requests(eu_spider)[0]
    response = json_response(request, _details("CERV-2026-CITIZENS-TOWN-TT"))
    (item,) = _items(list(request.callback(response, **request.cb_kwargs)))
    assert item.details == "fetched"
    assert item.conditions_html
    assert item.record_hash == search_record_hash(request.cb_kwargs["result"])
    assert eu_spider.crawler.stats.get_value("foerderdesk/details_fetched") == 1


def test_unchanged_topics_are_not_requested_again_but_still_yielded(
    eu_spider: EuFundingTendersSpider,
) -> None:
    eu_spider.known = _known_fresh(eu_spider, 1, 2, 3)
    requested, yielded = [], []
    for n in (1, 2, 3):
        outputs = list(
            eu_spider.parse_search(json_response(eu_spider.search_request(n), _page(n)), n)
        )
        requested += _split(outputs)[0]
        yielded += _items(outputs)
    assert requested == []
    assert len(yielded) == 8  # every topic is seen, so nothing is withdrawn
    assert {i.details for i in yielded} == {"skipped"}
    # no details text to clean: the stored details stand
    assert all(i.description_html == i.conditions_html == "" for i in yielded)
    assert all(i.title and i.deadlines for i in yielded)
    assert eu_spider.crawler.stats.get_value("foerderdesk/details_skipped") == 8


def test_a_changed_search_record_has_its_details_requested(
    eu_spider: EuFundingTendersSpider,
) -> None:
    eu_spider.known = _known_fresh(eu_spider, 1)
    page = _page(1)
    page["results"][1]["metadata"]["deadlineDate"] = ["2026-12-01T00:00:00.000+0000"]
    outputs = list(eu_spider.parse_search(json_response(eu_spider.search_request(1), page), 1))
    assert [r.meta["identifier"] for r in _split(outputs)[0]] == ["ERC-2026-POC"]
    assert [i.source_id for i in _items(outputs)] == [
        "CERV-2026-CITIZENS-TOWN-TT",
        "LIFE-2026-STRAT-CLIMA-SIP-two-stage",
    ]
    assert eu_spider.crawler.stats.get_value("foerderdesk/details_due/changed") == 1


def test_volatile_parts_of_a_search_record_do_not_change_its_hash() -> None:
    result = _page(1)["results"][0]
    moved = json.loads(json.dumps(result))
    moved["weight"] = 17.5
    moved["apiVersion"] = "2.152"
    assert search_record_hash(moved) == search_record_hash(result)
    moved["metadata"]["status"] = ["31094503"]
    assert search_record_hash(moved) != search_record_hash(result)


def test_missing_or_old_details_are_requested_and_max_age_0_requests_all(
    eu_spider: EuFundingTendersSpider,
) -> None:
    known = _known_fresh(eu_spider, 1)
    known["CERV-2026-CITIZENS-TOWN-TT"] = replace(
        known["CERV-2026-CITIZENS-TOWN-TT"], details_missing=True
    )
    known["ERC-2026-POC"] = replace(
        known["ERC-2026-POC"], details_fetched_at=eu_spider.now - timedelta(days=8)
    )
    eu_spider.known = known
    assert [r.meta["identifier"] for r in _detail_requests(eu_spider)] == [
        "CERV-2026-CITIZENS-TOWN-TT",
        "ERC-2026-POC",
    ]

    crawler = get_crawler(EuFundingTendersSpider)
    always = EuFundingTendersSpider.from_crawler(
        crawler, config={"details_max_age_days": 0}, known=_known_fresh(eu_spider, 1)
    )
    assert len(_detail_requests(always)) == 3


def test_identifier_with_slashes_is_quoted_in_the_details_url(
    eu_spider: EuFundingTendersSpider,
) -> None:
    (request,) = [
        r for r in _detail_requests(eu_spider, 2) if r.meta["identifier"].startswith("EuropeAid")
    ]
    assert request.url == (
        "https://ec.europa.eu/info/funding-tenders/opportunities/data/topicDetails/"
        "EuropeAid%2F186246%2FDD%2FACT%2FNG.json"
    )
    # the saved details of that topic answer it, and the item keeps the real identifier
    response = json_response(request, _details("EuropeAid/186246/DD/ACT/NG"))
    (item,) = _items(list(request.callback(response, **request.cb_kwargs)))
    assert (item.source_id, item.details) == ("EuropeAid/186246/DD/ACT/NG", "fetched")
