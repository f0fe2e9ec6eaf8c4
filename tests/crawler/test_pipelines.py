"""The pipelines through a real Scrapy crawler object: normalise, drop with reasons, store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from scrapy import signals
from scrapy.utils.test import get_crawler
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from crawler.items import FundingCallItem
from crawler.pipelines import Dropped, NormalizePipeline, StorePipeline
from crawler.spiders.eu_funding_tenders import EuFundingTendersSpider
from storage.calls import sync_source
from storage.models import FundingCall

SOURCE = {"slug": "eu_funding_tenders", "funder_type": "eu", "language": "en"}


def _item(source_id: str = "T-1", **fields) -> FundingCallItem:  # type: ignore[no-untyped-def]
    base = {
        "source": "eu_funding_tenders",
        "source_id": source_id,
        "url": f"https://example.org/{source_id}",
        "title": "Towns for climate",
        "description_html": "<p>Cities and municipalities act.</p><script>alert(1)</script>",
        "deadlines": [{"raw": "2027-04-08T00:00:00.000+0000", "stage": "", "label": ""}],
        "budget_raw": "EUR 1.5 million",
    }
    base.update(fields)
    return FundingCallItem(**base)


@pytest.fixture
def crawler(engine: Engine, database_url: str, session: Session):  # type: ignore[no-untyped-def]
    sync_source(session, SOURCE)
    session.commit()
    return get_crawler(
        EuFundingTendersSpider,
        {
            "FOERDERDESK_DATABASE_URL": database_url,
            "FOERDERDESK_SOURCE": SOURCE,
            "FOERDERDESK_BATCH_SIZE": 2,
        },
    )


def _through(crawler, items):  # type: ignore[no-untyped-def]
    normalize = NormalizePipeline.from_crawler(crawler)
    store = StorePipeline.from_crawler(crawler)
    for item in items:
        try:
            store.process_item(normalize.process_item(item))
        except Dropped as exc:
            crawler.signals.send_catch_log(
                signal=signals.item_dropped,
                item=item,
                exception=exc,
                response=None,
                spider=None,
            )
    return store


def test_items_are_normalised_and_stored_in_batches(crawler, session: Session) -> None:  # type: ignore[no-untyped-def]
    store = _through(crawler, [_item("T-1"), _item("T-2"), _item("T-3")])
    # a batch of two is already committed before the spider closes
    assert len(session.scalars(select(FundingCall)).all()) == 2
    store.close_spider()
    session.expire_all()
    calls = {c.source_id: c for c in session.scalars(select(FundingCall))}
    assert set(calls) == {"T-1", "T-2", "T-3"}
    call = calls["T-1"]
    assert "<script" not in call.description
    assert call.budget_eur == 1_500_000
    assert call.deadlines[0].due_at == datetime(2027, 4, 8, 15, 0, tzinfo=UTC)
    assert call.funder_type == "eu"  # from the sources file, the item left it empty
    assert crawler.stats.get_value("foerderdesk/calls_new") == 3


def test_bad_items_are_dropped_with_counted_reasons(crawler, session: Session) -> None:  # type: ignore[no-untyped-def]
    store = _through(
        crawler,
        [
            _item("T-1"),
            _item("T-1"),
            _item("T-2", title=""),
            _item("T-3", deadlines=[{"raw": "sometime soonish", "stage": "", "label": ""}]),
            _item("T-4", url="javascript:alert(1)"),
        ],
    )
    store.close_spider()
    stats = crawler.stats.get_stats()
    assert {k: v for k, v in stats.items() if k.startswith("foerderdesk/dropped/")} == {
        "foerderdesk/dropped/duplicate": 1,
        "foerderdesk/dropped/missing_title": 1,
        "foerderdesk/dropped/bad_deadline": 1,
        "foerderdesk/dropped/bad_url": 1,
    }
    session.expire_all()
    assert [c.source_id for c in session.scalars(select(FundingCall))] == ["T-1"]


def test_applicants_are_inferred_from_conditions_when_the_source_names_none(
    crawler, session: Session
) -> None:  # type: ignore[no-untyped-def]
    conditions = "<p>Eligible: municipalities and non-profit organisations (NGOs).</p>"
    store = _through(
        crawler, [_item("T-1", conditions_html=conditions, eligibility_text=conditions)]
    )
    store.close_spider()
    session.expire_all()
    call = session.scalars(select(FundingCall)).one()
    assert "municipality" in call.eligible_applicants
    assert call.eligibility_inferred


def test_source_status_is_kept_where_dates_are_silent_and_overruled_where_not(  # type: ignore[no-untyped-def]
    crawler, session: Session
) -> None:
    store = _through(
        crawler,
        [
            _item("SOON", status_source="forthcoming"),
            _item("STALE", status_source="forthcoming",
                  deadlines=[{"raw": "2020-04-08T00:00:00.000+0000", "stage": "", "label": ""}]),
            _item("OPEN", status_source="open"),
        ],
    )  # fmt: skip
    store.close_spider()
    session.expire_all()
    status = {c.source_id: c.status for c in session.scalars(select(FundingCall))}
    assert status == {"SOON": "forthcoming", "STALE": "closed", "OPEN": "open"}


def test_details_states_reach_the_store_and_skipped_details_blank_nothing(  # type: ignore[no-untyped-def]
    crawler, session: Session
) -> None:
    conditions = "<p>Eligible: municipalities and non-profit organisations (NGOs).</p>"
    fetched = _item("T-1", conditions_html=conditions, eligibility_text=conditions,
                    record_hash="h1", details="fetched")  # fmt: skip
    _through(crawler, [fetched, _item("T-2", record_hash="h2", details="missing")]).close_spider()
    session.expire_all()
    calls = {c.source_id: c for c in session.scalars(select(FundingCall))}
    assert (calls["T-1"].details_missing, calls["T-1"].record_hash) == (False, "h1")
    assert calls["T-1"].details_fetched_at is not None
    assert (calls["T-2"].details_missing, calls["T-2"].details_fetched_at) == (True, None)
    stored = (calls["T-1"].description, calls["T-1"].conditions, calls["T-1"].eligible_applicants)

    # the next run: T-1 unchanged (skipped, no details text), T-2's details arrive
    skipped = _item("T-1", description_html="", record_hash="h1", details="skipped")
    crawler.stats.clear_stats()
    again = NormalizePipeline.from_crawler(crawler), StorePipeline.from_crawler(crawler)
    for item in (skipped, _item("T-2", conditions_html=conditions, record_hash="h2")):
        again[1].process_item(again[0].process_item(item))
    again[1].close_spider()
    session.expire_all()
    calls = {c.source_id: c for c in session.scalars(select(FundingCall))}
    assert (calls["T-1"].description, calls["T-1"].conditions,
            calls["T-1"].eligible_applicants) == stored  # fmt: skip
    assert crawler.stats.get_value("foerderdesk/calls_unchanged") == 1
    assert calls["T-2"].details_missing is False
    assert calls["T-2"].conditions


def test_unknown_details_state_is_dropped(crawler, session: Session) -> None:  # type: ignore[no-untyped-def]
    _through(crawler, [_item("T-1", details="maybe")]).close_spider()
    assert crawler.stats.get_value("foerderdesk/dropped/bad_details_state") == 1
