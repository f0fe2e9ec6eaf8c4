"""Details pages in the store: what is known of them, when they are due, and that a record
without fresh details (skipped or failed) never blanks the stored ones."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.call_details import KnownDetails, details_due, known_details
from storage.calls import (
    CallRecord,
    CrawlCounts,
    DeadlineRecord,
    finish_crawl_run,
    start_crawl_run,
    sync_source,
    upsert_call,
    withdraw_unseen,
)
from storage.models import CallChange, FundingCall

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
HASH = "a" * 64


def _source(session: Session, slug: str = "eu_funding_tenders"):  # type: ignore[no-untyped-def]
    return sync_source(session, {"slug": slug, "name": slug, "spider": slug, "funder_type": "eu"})


def _record(source_id: str = "T-1", **overrides) -> CallRecord:  # type: ignore[no-untyped-def]
    """A topic as stored with its details (description, conditions, applicants)."""
    base = CallRecord(
        source="eu_funding_tenders",
        source_id=source_id,
        url=f"https://example.org/{source_id}",
        title="Town twinning",
        summary="Bring citizens together.",
        description="<p>Bring citizens together.</p>",
        description_text="Bring citizens together.",
        conditions="<p>Towns and municipalities.</p>",
        funder_type="eu",
        deadline_model="single",
        deadlines=[DeadlineRecord(due_at=datetime(2026, 9, 18, 15, 0, tzinfo=UTC), stage="1")],
        eligible_applicants=["municipality"],
        eligibility_inferred=True,
        record_hash=HASH,
    )
    return replace(base, **overrides)


def _search_only(source_id: str = "T-1", **overrides) -> CallRecord:  # type: ignore[no-untyped-def]
    """The same topic from its search record alone: no description, no conditions."""
    blank = {
        "summary": "",
        "description": "",
        "description_text": "",
        "conditions": "",
        "eligible_applicants": [],
        "eligibility_inferred": False,
        "details_fetched": False,
    }
    return _record(source_id, **{**blank, **overrides})


def _call(session: Session, source_id: str = "T-1") -> FundingCall:
    session.expire_all()
    return session.scalars(select(FundingCall).where(FundingCall.source_id == source_id)).one()


@pytest.mark.parametrize(
    ("known", "record_hash", "max_age", "expected"),
    [
        (None, HASH, 7, "new"),
        (KnownDetails(HASH, NOW - timedelta(days=1), details_missing=True), HASH, 7, "missing"),
        (KnownDetails("b" * 64, NOW - timedelta(days=1), False), HASH, 7, "changed"),
        (KnownDetails(HASH, NOW - timedelta(days=1), False), "", 7, "changed"),
        (KnownDetails(HASH, NOW - timedelta(days=8), False), HASH, 7, "stale"),
        (KnownDetails(HASH, NOW - timedelta(days=7), False), HASH, 7, "stale"),
        (KnownDetails(HASH, None, False), HASH, 7, "stale"),
        (KnownDetails(HASH, NOW - timedelta(hours=1), False), HASH, 0, "stale"),  # 0: always
        (KnownDetails(HASH, NOW - timedelta(days=6), False), HASH, 7, ""),
        (KnownDetails(HASH, NOW - timedelta(days=20), False), HASH, 30, ""),
    ],
)
def test_details_are_due_for_new_missing_changed_and_old_topics_only(
    known: KnownDetails | None, record_hash: str, max_age: float, expected: str
) -> None:
    assert details_due(known, record_hash, max_age_days=max_age, now=NOW) == expected


def test_known_details_lists_the_live_calls_of_one_source(session: Session) -> None:
    _source(session)
    _source(session, "other")
    upsert_call(session, _record("T-1"), now=NOW)
    upsert_call(session, _search_only("T-2", details_missing=True), now=NOW)
    upsert_call(session, _record("GONE"), now=NOW - timedelta(days=3))
    upsert_call(session, replace(_record("X"), source="other"), now=NOW)
    withdraw_unseen(session, "eu_funding_tenders", NOW - timedelta(days=1), now=NOW)
    session.commit()
    assert known_details(session, "eu_funding_tenders") == {
        "T-1": KnownDetails(HASH, NOW, details_missing=False),
        "T-2": KnownDetails(HASH, None, details_missing=True),
    }


def test_skipped_details_keep_the_stored_description_conditions_and_applicants(
    session: Session,
) -> None:
    _source(session)
    upsert_call(session, _record(), now=NOW)
    session.commit()
    stored_hash = _call(session).content_hash
    later = NOW + timedelta(days=1)
    assert upsert_call(session, _search_only(), now=later) == "unchanged"
    session.commit()
    call = _call(session)
    assert call.description == "<p>Bring citizens together.</p>"
    assert call.conditions == "<p>Towns and municipalities.</p>"
    assert call.summary == "Bring citizens together."
    assert call.eligible_applicants == ["municipality"]
    assert call.content_hash == stored_hash
    assert call.last_seen_at == later
    assert call.details_fetched_at == NOW  # no new details arrived
    assert session.scalar(select(func.count(CallChange.id))) == 0


def test_skipped_details_still_take_a_changed_deadline_from_the_search_record(
    session: Session,
) -> None:
    _source(session)
    upsert_call(session, _record(), now=NOW)
    session.commit()
    moved = [DeadlineRecord(due_at=datetime(2026, 10, 1, 15, 0, tzinfo=UTC), stage="1")]
    assert upsert_call(session, _search_only(deadlines=moved), now=NOW) == "updated"
    session.commit()
    call = _call(session)
    assert call.next_deadline_at == datetime(2026, 10, 1, 15, 0, tzinfo=UTC)
    assert call.conditions == "<p>Towns and municipalities.</p>"
    fields = session.scalars(select(CallChange.field)).all()
    assert "conditions" not in fields and "description" not in fields


def test_failed_details_store_the_search_record_marked_and_a_later_fetch_completes_it(
    session: Session,
) -> None:
    _source(session)
    failed = _search_only(details_missing=True, description="<p>From the search record.</p>")
    assert upsert_call(session, failed, now=NOW) == "new"
    session.commit()
    call = _call(session)
    assert call.details_missing
    assert call.details_fetched_at is None
    assert call.description == "<p>From the search record.</p>"  # what the search record has

    later = NOW + timedelta(days=1)
    assert upsert_call(session, _record(), now=later) == "updated"
    session.commit()
    call = _call(session)
    assert not call.details_missing
    assert call.details_fetched_at == later
    assert call.conditions == "<p>Towns and municipalities.</p>"


def test_failed_details_after_a_good_fetch_keep_the_stored_details(session: Session) -> None:
    _source(session)
    upsert_call(session, _record(), now=NOW)
    session.commit()
    later = NOW + timedelta(days=8)
    upsert_call(session, _search_only(details_missing=True), now=later)
    session.commit()
    call = _call(session)
    assert call.details_missing  # fetched again next run
    assert call.conditions == "<p>Towns and municipalities.</p>"
    assert call.eligible_applicants == ["municipality"]
    assert call.details_fetched_at == NOW
    assert session.scalar(select(func.count(CallChange.id))) == 0


def test_details_fetched_again_and_unchanged_are_fresh_again(session: Session) -> None:
    _source(session)
    upsert_call(session, _record(), now=NOW)
    session.commit()
    later = NOW + timedelta(days=8)
    assert upsert_call(session, _record(), now=later) == "unchanged"
    session.commit()
    assert _call(session).details_fetched_at == later


def test_finish_crawl_run_stores_the_details_counts(session: Session) -> None:
    run = start_crawl_run(session, _source(session), now=NOW)
    counts = CrawlCounts(items_seen=9, details_fetched=2, details_skipped=6, details_missing=1)
    finish_crawl_run(session, run, "partial", counts, now=NOW + timedelta(seconds=1))
    session.commit()
    assert (run.details_fetched, run.details_skipped, run.details_missing) == (2, 6, 1)


def test_skipped_details_keep_figures_read_from_the_details_prose(session: Session) -> None:
    _source(session)
    upsert_call(session, _record(grant_max_eur=60_000, funding_rate=90.0, budget_eur=None))
    session.commit()
    # the search record states a budget but no grant range: the prose's figures stand
    skipped = _search_only(budget_eur=1_000_000)
    upsert_call(session, skipped)
    session.commit()
    call = _call(session)
    assert (call.budget_eur, call.grant_max_eur, call.funding_rate) == (1_000_000, 60_000, 90.0)
