"""The EU Funding & Tenders spider on saved responses: requests, pagination, items."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from scrapy import Request
from scrapy.exceptions import CloseSpider

from crawler.items import FundingCallItem
from crawler.pipelines import normalize_item
from crawler.spiders.eu_funding_tenders import (
    BOUNDARY,
    EuFundingTendersSpider,
    stage_deadlines,
    topic_budget,
)
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
