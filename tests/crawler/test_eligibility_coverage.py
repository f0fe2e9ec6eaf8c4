"""Who may apply, over the bundled snapshot: the EU spider parses every saved search page and
topic-details document (no network, no database), the pipeline normalises each topic, and at
least 90 % of the calls must say who may apply, stated or inferred."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import pytest
from scrapy import Request
from scrapy.utils.test import get_crawler

from crawler.items import FundingCallItem
from crawler.mirror import BUNDLED_SNAPSHOT, Snapshot, open_snapshot
from crawler.normalize.eligibility import load_rules
from crawler.pipelines import normalize_item
from crawler.spiders.eu_funding_tenders import EuFundingTendersSpider
from storage.calls import CallRecord
from tests.crawler.conftest import json_response

MIN_KNOWN_SHARE = 0.90


def _items(snapshot: Snapshot) -> Iterator[FundingCallItem]:
    """Every item the spider yields for the snapshot, its requests answered from the files."""
    crawler = get_crawler(EuFundingTendersSpider)
    spider = EuFundingTendersSpider.from_crawler(
        crawler, source="eu_funding_tenders", config={"page_size": 100}
    )
    crawler.spider = spider
    facet = spider.facet_request()
    facet_body = json.loads((snapshot.eu / "facet_frameworkProgramme.json").read_text())
    pending: list[Request] = list(spider.parse_facet(json_response(facet, facet_body)))
    while pending:
        request = pending.pop(0)
        if "rest/search" in request.url:
            page = request.cb_kwargs["page"]
            path = snapshot.search_pages.get(page)
            body = json.loads(path.read_text()) if path else {"results": [], "totalResults": 0}
        else:
            name = request.meta["identifier"].replace("/", "_").lower()
            body = json.loads(snapshot.topic_files[name].read_text())
        assert request.callback is not None
        for output in request.callback(json_response(request, body), **request.cb_kwargs):
            if isinstance(output, Request):
                pending.append(output)
            else:
                yield output


@pytest.fixture(scope="module")
def records() -> Iterator[list[CallRecord]]:
    root, cleanup = open_snapshot(BUNDLED_SNAPSHOT)
    try:
        yield [normalize_item(item) for item in _items(Snapshot(root))]
    finally:
        cleanup()


def _kind(record: CallRecord) -> str:
    evidence = set(record.eligibility_evidence.values())
    if not record.eligible_applicants:
        return "unknown"
    if "stated" not in evidence:
        return "inferred"
    return "stated and inferred" if "inferred" in evidence else "stated"


def test_at_least_90_percent_of_snapshot_calls_say_who_may_apply(
    records: list[CallRecord],
) -> None:
    assert len(records) > 600  # the whole snapshot went through, not a sample
    kinds = Counter(_kind(r) for r in records)
    with_consortium = sum(r.single_applicant is not None or bool(r.min_partners) for r in records)
    with_germany = sum(r.germany_eligible is not None for r in records)
    total = len(records)
    # The figures the issue asks for; shown with pytest -s.
    print(
        f"\n{total} EU calls: "
        + ", ".join(f"{kind} {n} ({n / total:.1%})" for kind, n in sorted(kinds.items()))
        + f"; consortium known {with_consortium} ({with_consortium / total:.1%})"
        + f"; Germany eligible known {with_germany} ({with_germany / total:.1%})"
    )
    known = total - kinds["unknown"]
    assert known / total >= MIN_KNOWN_SHARE, kinds


def test_every_answer_says_where_it_comes_from(records: list[CallRecord]) -> None:
    rule_ids = {rule.id for rule in load_rules()}
    for record in records:
        assert set(record.eligibility_evidence) == set(record.eligible_applicants)
        assert set(record.eligibility_evidence.values()) <= {"stated", "inferred"}
        if "inferred" in record.eligibility_evidence.values():
            assert record.eligibility_rule in rule_ids, record.source_id
        assert record.eligibility_inferred == bool(record.eligible_applicants)


def test_town_twinning_is_for_towns(records: list[CallRecord]) -> None:
    town = next(r for r in records if r.source_id == "CERV-2026-CITIZENS-TOWN-TT")
    assert "municipality" in town.eligible_applicants
    assert town.germany_eligible is True
