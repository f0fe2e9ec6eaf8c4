"""Storing crawled calls: upsert, change records, deadlines, withdrawal, crawl runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.calls import (
    CallRecord,
    CrawlCounts,
    DeadlineRecord,
    finish_crawl_run,
    mark_seen,
    start_crawl_run,
    sync_source,
    upsert_call,
)
from storage.deadlines import compute_next_deadline
from storage.models import CallChange, CallDeadline, FundingCall

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _source(session: Session, slug: str = "eu_funding_tenders"):  # type: ignore[no-untyped-def]
    return sync_source(
        session,
        {"slug": slug, "name": "EU Funding & Tenders", "spider": slug, "funder_type": "eu"},
    )


def _record(source_id: str = "CERV-2026-CITIZENS-TOWN-TT", **overrides) -> CallRecord:  # type: ignore[no-untyped-def]
    base = CallRecord(
        source="eu_funding_tenders",
        source_id=source_id,
        url=f"https://example.org/{source_id}",
        title="Town twinning",
        description="<p>Bring citizens together.</p>",
        funder_type="eu",
        deadline_model="single",
        deadlines=[DeadlineRecord(due_at=datetime(2026, 9, 18, 15, 0, tzinfo=UTC), stage="1")],
        budget_eur=1_000_000,
    )
    return replace(base, **overrides)


def _call(session: Session, source_id: str = "CERV-2026-CITIZENS-TOWN-TT") -> FundingCall:
    return session.scalars(select(FundingCall).where(FundingCall.source_id == source_id)).one()


def test_new_call_is_stored_with_deadlines_and_status_from_dates(session: Session) -> None:
    _source(session)
    assert upsert_call(session, _record(), now=NOW) == "new"
    session.commit()
    call = _call(session)
    assert call.status == "open"
    assert call.next_deadline_at == datetime(2026, 9, 18, 15, 0, tzinfo=UTC)
    assert [d.stage for d in call.deadlines] == ["1"]
    assert call.first_seen_at == call.last_changed_at == NOW
    assert call.content_hash


def test_same_content_again_is_unchanged_and_only_touches_last_seen(session: Session) -> None:
    _source(session)
    upsert_call(session, _record(), now=NOW)
    session.commit()
    later = NOW + timedelta(days=1)
    assert upsert_call(session, _record(), now=later) == "unchanged"
    session.commit()
    call = _call(session)
    assert call.last_seen_at == later
    assert call.last_changed_at == NOW
    assert session.scalar(select(func.count(CallChange.id))) == 0


def test_changed_deadline_and_budget_write_one_change_per_field(session: Session) -> None:
    _source(session)
    upsert_call(session, _record(), now=NOW)
    session.commit()
    moved = [DeadlineRecord(due_at=datetime(2026, 10, 1, 15, 0, tzinfo=UTC), stage="1")]
    later = NOW + timedelta(days=1)
    assert upsert_call(session, _record(deadlines=moved, budget_eur=2_000_000), now=later) == (
        "updated"
    )
    session.commit()
    changes = {c.field: c for c in session.scalars(select(CallChange))}
    assert set(changes) == {"deadlines", "next_deadline", "budget_eur"}
    assert changes["budget_eur"].old_value == "1000000"
    assert changes["budget_eur"].new_value == "2000000"
    assert changes["next_deadline"].old_value.startswith("2026-09-18")
    assert changes["next_deadline"].new_value.startswith("2026-10-01")
    call = _call(session)
    assert call.last_changed_at == later
    # deadlines are replaced, not accumulated
    assert session.scalar(select(func.count(CallDeadline.id))) == 1


def test_passed_deadline_closes_call_and_records_status_change(session: Session) -> None:
    _source(session)
    upsert_call(session, _record(), now=NOW)
    session.commit()
    after_deadline = datetime(2026, 10, 1, tzinfo=UTC)
    assert upsert_call(session, _record(), now=after_deadline) == "updated"
    session.commit()
    assert _call(session).status == "closed"
    fields = {c.field: (c.old_value, c.new_value) for c in session.scalars(select(CallChange))}
    assert fields["status"] == ("open", "closed")


def test_withdrawal_only_after_a_successful_run(session: Session) -> None:
    source = _source(session)
    upsert_call(session, _record("A"), now=NOW)
    upsert_call(session, _record("B"), now=NOW)
    session.commit()

    later = NOW + timedelta(days=1)
    for outcome in ("failed", "partial"):
        run = start_crawl_run(session, source, now=later)
        upsert_call(session, _record("A"), now=later)
        finish_crawl_run(session, run, outcome, CrawlCounts(), reason="x", now=later)
        session.commit()
        assert run.calls_withdrawn == 0
        assert _call(session, "B").withdrawn_at is None

    run = start_crawl_run(session, source, now=later)
    upsert_call(session, _record("A"), now=later + timedelta(seconds=1))
    finish_crawl_run(session, run, "succeeded", CrawlCounts(calls_unchanged=1), now=later)
    session.commit()
    assert run.calls_withdrawn == 1
    b = _call(session, "B")
    assert b.withdrawn_at == later
    assert b.status == "withdrawn"
    assert _call(session, "A").withdrawn_at is None


def test_withdrawn_call_that_reappears_comes_back(session: Session) -> None:
    source = _source(session)
    upsert_call(session, _record("B"), now=NOW)
    run = start_crawl_run(session, source, now=NOW + timedelta(hours=1))
    finish_crawl_run(session, run, "succeeded", CrawlCounts(), now=NOW + timedelta(hours=1))
    session.commit()
    assert _call(session, "B").status == "withdrawn"

    assert upsert_call(session, _record("B"), now=NOW + timedelta(days=2)) == "updated"
    session.commit()
    call = _call(session, "B")
    assert call.withdrawn_at is None
    assert call.status == "open"


def test_mark_seen_protects_an_unstorable_call_from_withdrawal(session: Session) -> None:
    source = _source(session)
    upsert_call(session, _record("B"), now=NOW)
    session.commit()
    later = NOW + timedelta(days=1)
    run = start_crawl_run(session, source, now=later)
    assert mark_seen(session, "eu_funding_tenders", "B", now=later)
    assert not mark_seen(session, "eu_funding_tenders", "never-stored", now=later)
    finish_crawl_run(session, run, "succeeded", CrawlCounts(), now=later)
    session.commit()
    assert _call(session, "B").withdrawn_at is None


def test_finish_crawl_run_stores_counts_and_duration(session: Session) -> None:
    source = _source(session)
    run = start_crawl_run(session, source, mirror="http://127.0.0.1:1", now=NOW)
    counts = CrawlCounts(requests=9, items_seen=7, calls_new=5, dropped={"no_title": 2}, errors=1)
    finish_crawl_run(session, run, "partial", counts, now=NOW + timedelta(seconds=3))
    session.commit()
    assert (run.outcome, run.requests, run.calls_new, run.errors) == ("partial", 9, 5, 1)
    assert run.dropped == {"no_title": 2}
    assert run.duration_seconds == pytest.approx(3.0)
    with pytest.raises(ValueError, match="final"):
        finish_crawl_run(session, run, "running", counts)


def test_sync_source_updates_existing_row_and_rejects_bad_funder_type(session: Session) -> None:
    first = _source(session)
    again = sync_source(
        session,
        {"slug": "eu_funding_tenders", "name": "Renamed", "funder_type": "eu", "enabled": False},
    )
    assert again.id == first.id
    assert (again.name, again.enabled) == ("Renamed", False)
    with pytest.raises(ValueError, match="funder_type"):
        sync_source(session, {"slug": "x", "funder_type": "galactic"})


def test_two_stage_next_deadline_is_stage_one_only() -> None:
    stage1 = DeadlineRecord(due_at=datetime(2026, 4, 8, 15, tzinfo=UTC), stage="1")
    stage2 = DeadlineRecord(due_at=datetime(2026, 9, 14, 15, tzinfo=UTC), stage="2")
    before = datetime(2026, 3, 1, tzinfo=UTC)
    between = datetime(2026, 5, 1, tzinfo=UTC)
    assert compute_next_deadline([stage1, stage2], "two_stage", before) == stage1.due_at
    assert compute_next_deadline([stage1, stage2], "two_stage", between) is None
    # multiple cut-offs: the next one ahead
    assert compute_next_deadline([stage1, stage2], "multiple_cutoff", between) == stage2.due_at


def test_recurring_deadline_next_occurrence() -> None:
    yearly = DeadlineRecord(due_at=None, recurring_month_day="09-30", timezone="Europe/Berlin")
    due = compute_next_deadline([yearly], "recurring", datetime(2026, 10, 5, tzinfo=UTC))
    assert due is not None
    assert (due.year, due.month, due.day) == (2027, 9, 30)
