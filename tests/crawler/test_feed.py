"""The generic RSS/Atom spider on a saved fundsforNGOs feed and an Atom feed (offline)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.exceptions import CloseSpider
from scrapy.http import HtmlResponse, XmlResponse

from crawler.items import FundingCallItem
from crawler.normalize.dates import parse_deadline
from crawler.normalize.money import parse_amount_eur
from crawler.spiders.feed import FeedSpider

DATA = Path(__file__).parents[1] / "data" / "crawler" / "feed"
FEED_URL = "https://www2.fundsforngos.org/feed/"
ATOM_URL = "https://feeds.example.org/foerderaufrufe.atom"


def _items(spider: FeedSpider, name: str, url: str) -> list[FundingCallItem]:
    response = XmlResponse(url=url, body=(DATA / name).read_bytes(), request=Request(url))
    return list(spider.parse(response, feed_url=url))


@pytest.fixture
def spider() -> FeedSpider:
    return FeedSpider(source="fundsforngos", config={"url": FEED_URL})


def test_rss_entry_fields(spider: FeedSpider) -> None:
    first, second = _items(spider, "fundsforngos.xml", FEED_URL)
    assert first.source == "fundsforngos"
    assert first.source_id == "https://www2.fundsforngos.org/?p=100001"
    assert first.url.startswith(
        "https://www2.fundsforngos.org/latest-funds-for-ngos/2nd-call-for-proposals-of-eui-"
    )
    assert first.title.startswith("2nd Call for Proposals of EUI-Innovative Actions")
    assert first.deadlines == [{"raw": "5-Oct-23", "stage": "", "label": "Deadline"}]
    assert first.summary.startswith("The European Urban Initiative is seeking proposals")
    assert first.keywords == ["Latest Funds for NGOs", "Europe", "Urban Development"]
    assert parse_amount_eur(first.budget_raw) == 120_000_000
    assert second.deadlines[0]["raw"] == "21-Sep-20"
    assert parse_amount_eur(second.grant_max_raw) == 7_500
    assert "non-profit organizations" in second.eligibility_text


def test_only_the_excerpt_is_kept_unless_full_text_is_configured(spider: FeedSpider) -> None:
    (first, _) = _items(spider, "fundsforngos.xml", FEED_URL)
    assert "Topics of the Call" not in first.description_html  # the full post stays there
    full = FeedSpider(source="fundsforngos", config={"url": FEED_URL, "full_text": True})
    (first_full, _) = _items(full, "fundsforngos.xml", FEED_URL)
    assert "<h3>Topics of the Call</h3>" in first_full.description_html


def test_feed_deadlines_parse_to_the_written_day(spider: FeedSpider) -> None:
    first, second = _items(spider, "fundsforngos.xml", FEED_URL)
    due = parse_deadline(first.deadlines[0]["raw"]).due_at
    assert due is not None and due.astimezone(UTC).date() == datetime(2023, 10, 5).date()
    assert parse_deadline(second.deadlines[0]["raw"]).local_date == datetime(2020, 9, 21).date()


def test_atom_feed_with_keyword_filter() -> None:
    spider = FeedSpider(
        source="example_atom",
        config={"url": ATOM_URL, "include_keywords": ["call", "Förder", "Kommunen"]},
    )
    items = _items(spider, "atom_written_by_us.xml", ATOM_URL)
    assert [i.source_id for i in items] == [
        "urn:foerderdesk:test:atom:kpf-2026",
        "urn:foerderdesk:test:atom:eui-ia-4",
    ]  # the newsletter matched no keyword
    kpf, eui = items
    assert kpf.url == "https://feeds.example.org/aufrufe/kleinprojektefonds-2026"
    assert [d["raw"] for d in kpf.deadlines] == ["15.10.2026"]
    assert parse_amount_eur(kpf.grant_max_raw) == 20_000
    assert kpf.keywords == ["Kommunen", "Entwicklungspolitik"]
    assert eui.deadlines == []
    assert parse_amount_eur(eui.budget_raw) == 60_000_000
    assert parse_amount_eur(eui.grant_max_raw) == 5_000_000
    assert eui.language == ""  # the feed says "de" for all; the pipeline detects per entry


def test_exclude_keywords_drop_entries() -> None:
    spider = FeedSpider(source="x", config={"url": FEED_URL, "exclude_keywords": ["refugee"]})
    assert [i.source_id for i in _items(spider, "fundsforngos.xml", FEED_URL)] == [
        "https://www2.fundsforngos.org/?p=100001"
    ]


@pytest.mark.parametrize(
    ("name", "url"), [("fundsforngos.xml", FEED_URL), ("atom_written_by_us.xml", ATOM_URL)]
)
def test_every_feed_item_is_complete(spider: FeedSpider, name: str, url: str) -> None:
    items = _items(spider, name, url)
    assert items
    for item in items:
        assert item.source and item.source_id and item.url and item.title
        for deadline in item.deadlines:
            parse_deadline(deadline["raw"])


def test_html_page_instead_of_a_feed_closes_the_spider(spider: FeedSpider) -> None:
    page = HtmlResponse(
        url=FEED_URL,
        body=b"<html><head><title>Just a moment...</title></head><body>check</body></html>",
    )
    with pytest.raises(CloseSpider) as caught:
        list(spider.parse(page, feed_url=FEED_URL))
    assert caught.value.reason.startswith("blocked: ")
    assert "not an RSS/Atom feed" in caught.value.reason
    assert "Just a moment..." in caught.value.reason


def test_feed_url_is_required() -> None:
    with pytest.raises(ValueError, match=r"settings\.url"):
        FeedSpider(source="x", config={}).feed_urls()
