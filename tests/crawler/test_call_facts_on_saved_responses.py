"""Every source's saved responses through its spider and the pipeline: an identifier that is
not a URL, a programme and a funder for every call, money where the source states it, and
text a person can read (sections apart, summaries that end at a sentence or a word)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, XmlResponse
from scrapy.utils.test import get_crawler

from crawler.foerderdatenbank.build import build_export
from crawler.items import FundingCallItem
from crawler.pipelines import normalize_item
from crawler.sources import load_sources
from crawler.spiders.eu_funding_tenders import EuFundingTendersSpider
from crawler.spiders.feed import FeedSpider
from crawler.spiders.foerderdatenbank import FoerderdatenbankSpider
from crawler.spiders.funder_page import FunderPageSpider
from storage.calls import CallRecord
from tests.crawler.conftest import EU_MIRROR, FDB_EXPORT

DATA = Path(__file__).parents[1] / "data" / "crawler"
ENTRIES = {e.slug: e for e in load_sources()}


def _record(item: FundingCallItem) -> CallRecord:
    return normalize_item(item, source_defaults=ENTRIES[item.source].as_dict())


def _eu_records(spider: EuFundingTendersSpider) -> dict[str, CallRecord]:
    pages = EU_MIRROR / "eu_ft_sedia"
    records = {}
    for page in sorted(pages.glob("search_page_*.json")):
        for result in json.loads(page.read_text())["results"]:
            identifier = result["metadata"]["identifier"][0]
            path = pages / "topic_details" / f"{identifier.replace('/', '_')}.json"
            details = json.loads(path.read_text())["TopicDetails"]
            records[identifier] = _record(spider.build_item(result, details))
    return records


def _fdb_records(tmp_path: Path) -> dict[str, CallRecord]:
    crawler = get_crawler(FoerderdatenbankSpider)
    spider = FoerderdatenbankSpider.from_crawler(
        crawler, source="foerderdatenbank", config=ENTRIES["foerderdatenbank"].settings
    )
    export = tmp_path / "export.zip"
    build_export(FDB_EXPORT, export)
    return {item.source_id: _record(item) for item in spider.read_export(export)}


def _funder_page_records(slug: str) -> list[CallRecord]:
    spider = FunderPageSpider(source=slug, config=ENTRIES[slug].settings)
    url = spider.page_url()
    body = (DATA / "funder_page" / f"{slug}.html").read_bytes()
    page = HtmlResponse(url=url, body=body, encoding="utf-8", request=Request(url))
    items = []
    for output in spider.parse(page, page_url=url):
        if isinstance(output, Request):  # a detail page, saved as <slug>_detail_<name>.html
            name = output.url.rsplit("/", 1)[-1].removesuffix(".html").split("-")[-1]
            saved = DATA / "funder_page" / f"{slug}_detail_{name}.html"
            detail = HtmlResponse(output.url, body=saved.read_bytes(), encoding="utf-8",
                                  request=output)  # fmt: skip
            items += spider.parse_detail(detail, **output.cb_kwargs)
        else:
            items.append(output)
    return [_record(i) for i in items]


def _feed_records(**overrides: object) -> list[CallRecord]:
    entry = ENTRIES["fundsforngos"]
    spider = FeedSpider(source=entry.slug, config={**entry.settings, **overrides})
    url = entry.settings["url"]
    page = XmlResponse(url=url, body=(DATA / "feed" / "fundsforngos.xml").read_bytes(),
                       request=Request(url))  # fmt: skip
    return [_record(i) for i in spider.parse(page, feed_url=url)]


@pytest.fixture(scope="module")
def every_record(tmp_path_factory: pytest.TempPathFactory) -> list[CallRecord]:
    crawler = get_crawler(EuFundingTendersSpider)
    spider = EuFundingTendersSpider.from_crawler(crawler, source="eu_funding_tenders")
    fdb = _fdb_records(tmp_path_factory.mktemp("fdb"))
    records = list(_eu_records(spider).values()) + list(fdb.values())
    for slug, entry in ENTRIES.items():
        if entry.spider == "funder_page":
            records += _funder_page_records(slug)
    return records + _feed_records()


def test_every_call_has_a_short_identifier_a_programme_and_a_funder(
    every_record: list[CallRecord],
) -> None:
    assert len({r.source for r in every_record}) >= 8
    for record in every_record:
        where = f"{record.source}/{record.source_id}"
        assert record.call_identifier, where
        assert not record.call_identifier.startswith(("http://", "https://")), where
        assert len(record.call_identifier) <= 80, where
        assert record.programme, where
        assert record.funder and record.funder != record.source, where


def test_summaries_end_at_a_sentence_or_a_word(every_record: list[CallRecord]) -> None:
    for record in every_record:
        summary = record.summary
        if not summary:
            continue
        where = f"{record.source}/{record.source_id}: {summary!r}"
        assert len(summary) <= 450, where  # 300, or one long sentence whole
        bare = summary.removesuffix("…")
        position = record.description_text.find(bare)
        if position >= 0:  # taken from the description: never stops inside a word
            after = record.description_text[position + len(bare) : position + len(bare) + 1]
            assert not (after.isalnum() and bare[-1:].isalnum()), where
        # a summary that merely starts the description is one the page can leave out
        if summary.endswith("…"):
            assert not record.description_text.startswith(bare), where


def test_no_section_runs_into_the_next(every_record: list[CallRecord]) -> None:
    for record in every_record:
        for text in (record.description_text, record.summary):
            glued = re.search(r"[a-z]{3}[.:;][A-Z][a-z]{2}", text)
            assert glued is None, f"{record.source}/{record.source_id}: {glued}"


def test_foerderdatenbank_names_its_programme_funder_and_slug(tmp_path: Path) -> None:
    records = _fdb_records(tmp_path)
    work = records["Bund/BA/eingliederungszuschuss-bund"]
    assert work.programme == (
        "Finanzielle Unterstützungsmöglichkeiten bei Neueinstellungen (Eingliederungszuschüsse)"
    )
    assert work.call_identifier == "eingliederungszuschuss-bund"
    assert work.funder == "Bundesagentur für Arbeit (BA)"
    assert work.summary.startswith("Für die Einstellung von förderungsbedürftigen")
    film = records["Bund/BKM/deutsch-franzoesische-kooperationen-film-ffa"]
    assert film.funder == "Der Beauftragte der Bundesregierung für Kultur und Medien (BKM)"
    assert film.summary in film.description_text  # taken from the text: shown once


def test_funder_pages_carry_the_range_and_rate_they_state() -> None:
    skew = {r.call_identifier: r for r in _funder_page_records("skew")}
    assert (skew["kleinprojektefonds"].grant_min_eur, skew["kleinprojektefonds"].grant_max_eur) == (
        1_000,
        50_000,
    )
    assert skew["kleinprojektefonds"].funding_rate == 90.0
    nakopa = skew["unterstuetzung-durch-nakopa"]
    assert (nakopa.grant_min_eur, nakopa.grant_max_eur) == (50_000, 250_000)
    assert nakopa.programme.startswith("Nachhaltige Kommunalentwicklung")
    mensch = {r.call_identifier: r for r in _funder_page_records("aktion_mensch")}
    assert sorted(mensch) == ["aktionsprogramm-2026", "inklusionsprojekte", "mikroprojekte"]
    assert (
        mensch["inklusionsprojekte"].grant_max_eur,
        mensch["inklusionsprojekte"].funding_rate,
    ) == (
        450_000,
        70.0,
    )
    eui = {r.title: r for r in _funder_page_records("eui")}
    fourth = next(r for title, r in eui.items() if "4th" in title or "Fourth" in title)
    assert (fourth.budget_eur, fourth.grant_max_eur, fourth.funding_rate) == (
        60_000_000,
        5_000_000,
        80.0,
    )
    assert fourth.programme == "EUI Innovative Actions"


def test_aggregator_post_names_its_funder_programme_and_post_id() -> None:
    first, second = _feed_records(include_keywords=[])
    assert first.funder == "European Urban Initiative"
    assert first.programme == "EUI-Innovative Actions"
    assert first.call_identifier == "100001"
    assert first.budget_eur == 120_000_000
    assert first.summary.startswith("The European Urban Initiative is seeking proposals")
    assert first.summary in first.description_text
    assert second.funder == "Dutch Council for Refugees"


def test_eu_money_from_the_budget_overview_and_from_the_text() -> None:
    crawler = get_crawler(EuFundingTendersSpider)
    records = _eu_records(EuFundingTendersSpider.from_crawler(crawler, source="eu_funding_tenders"))
    poc = records["ERC-2026-POC"]
    assert (poc.grant_min_eur, poc.grant_max_eur, poc.expected_grants) == (150_000, 150_000, 400)
    assert poc.budget_eur == 60_000_000  # "The indicative budget for the ERC-2026-PoC call is …"
    democracy = records["HORIZON-CL2-2027-02-DEMOCRACY-09-two-stage"]
    assert (democracy.grant_min_eur, democracy.grant_max_eur) == (2_000_000, 3_700_000)


def test_eu_sections_are_headings_in_the_stored_html_and_lines_in_the_text() -> None:
    crawler = get_crawler(EuFundingTendersSpider)
    records = _eu_records(EuFundingTendersSpider.from_crawler(crawler, source="eu_funding_tenders"))
    twinning = records["CERV-2026-CITIZENS-TOWN-TT"]
    assert twinning.description_text.startswith("Expected Outcome:\nExpected results:\n")
    assert "<h3>Expected Outcome</h3>" in twinning.description
    assert "<li>" in twinning.description  # the ";"-separated results are a list again
    assert not twinning.conditions.startswith('<p>"&gt;')  # the export's stray attribute end
    poc = records["ERC-2026-POC"]
    assert "<h3>Objective</h3>" in poc.description and "<h3>Scope</h3>" in poc.description
    assert poc.summary.startswith("The ERC Proof of Concept Grants aim")
    assert poc.summary in poc.description_text
