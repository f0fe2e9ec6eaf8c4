"""Housekeeping: statuses that time moved, and old records pruned without losing history."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import storage.housekeeping
from storage.calls import CallRecord, DeadlineRecord, sync_source, upsert_call
from storage.digest_queries import seen_call_ids
from storage.housekeeping import PruneReport, prune, refresh_statuses
from storage.matching import last_full_rematch_start
from storage.models import (
    CallChange,
    CrawlRun,
    FundingCall,
    JobRun,
    Match,
    MatchRun,
    Notification,
    Source,
    Subscription,
    SubscriptionCall,
    WorkItem,
)
from tests.storage.factories import make_call, make_profile

STORED = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # when the crawl stored the calls
DUE = datetime(2026, 9, 18, 15, 0, tzinfo=UTC)
LATER = datetime(2026, 10, 1, 6, 0, tzinfo=UTC)  # the deadline has passed since
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # for pruning


def _record(source_id: str, source: str = "eu", **overrides: Any) -> CallRecord:
    base = CallRecord(
        source=source,
        source_id=source_id,
        url=f"https://example.org/{source_id}",
        title=f"Call {source_id}",
        deadline_model="single",
        deadlines=[DeadlineRecord(due_at=DUE, stage="1")],
    )
    return replace(base, **overrides)


def _crawled(session: Session, record: CallRecord, at: datetime = STORED) -> FundingCall:
    """A call as a crawl at ``at`` stored it."""
    sync_source(session, {"slug": record.source, "name": record.source})
    assert upsert_call(session, record, now=at) == "new"
    session.flush()
    return session.scalars(
        select(FundingCall).where(
            FundingCall.source == record.source, FundingCall.source_id == record.source_id
        )
    ).one()


def _changes(session: Session, call: FundingCall) -> dict[str, tuple[str | None, str | None]]:
    rows = session.scalars(select(CallChange).where(CallChange.call_id == call.id)).all()
    assert len(rows) == len({c.field for c in rows})  # one row per field
    return {c.field: (c.old_value, c.new_value) for c in rows}


# --- refresh_statuses ---------------------------------------------------------------------
def test_a_passed_deadline_closes_the_stored_call_with_one_status_change(
    session: Session,
) -> None:
    call = _crawled(session, _record("PASSED"))
    session.commit()
    assert (call.status, call.next_deadline_at) == ("open", DUE)

    assert refresh_statuses(session, now=LATER) == 1
    session.commit()
    session.expire_all()
    assert call.status == "closed"
    assert call.next_deadline_at is None
    assert call.last_changed_at == LATER
    rows = session.scalars(select(CallChange).where(CallChange.field == "status")).all()
    assert [(r.old_value, r.new_value, r.changed_at, r.crawl_run_id) for r in rows] == [
        ("open", "closed", LATER, None)
    ]
    # The next deadline is a tracked field too: recorded as the crawl records it.
    assert _changes(session, call) == {
        "status": ("open", "closed"),
        "next_deadline": (DUE.isoformat(), None),
    }


def test_refresh_records_what_a_crawl_of_the_same_record_would(session: Session) -> None:
    refreshed = _crawled(session, _record("TWIN", source="eu"))
    crawled = _crawled(session, _record("TWIN", source="eu_mirror"))
    session.commit()
    assert upsert_call(session, _record("TWIN", source="eu_mirror"), now=LATER) == "updated"
    assert refresh_statuses(session, now=LATER) == 1  # the crawled twin is up to date
    session.commit()
    assert _changes(session, refreshed) == _changes(session, crawled)
    assert (refreshed.status, refreshed.last_changed_at) == (crawled.status, LATER)


def test_a_rolling_call_stays_open(session: Session) -> None:
    call = _crawled(session, _record("ROLLING", deadline_model="rolling", deadlines=[]))
    session.commit()
    assert call.status == "open"
    assert refresh_statuses(session, now=LATER + timedelta(days=900)) == 0
    session.commit()
    session.expire_all()
    assert (call.status, call.last_changed_at) == ("open", STORED)
    assert _changes(session, call) == {}


def test_a_call_whose_opening_date_passed_goes_from_forthcoming_to_open(
    session: Session,
) -> None:
    opens = date(2026, 7, 1)
    call = _crawled(session, _record("SOON", opening_date=opens))
    session.commit()
    assert call.status == "forthcoming"
    assert refresh_statuses(session, now=datetime(2026, 6, 30, 12, 0, tzinfo=UTC)) == 0
    assert refresh_statuses(session, now=datetime(2026, 7, 2, 12, 0, tzinfo=UTC)) == 1
    session.commit()
    session.expire_all()
    assert call.status == "open"
    assert _changes(session, call) == {"status": ("forthcoming", "open")}


def test_a_passed_cut_off_moves_the_next_deadline_without_a_status_change(
    session: Session,
) -> None:
    second = DUE + timedelta(days=60)
    cut_offs = [DeadlineRecord(due_at=DUE, stage="1"), DeadlineRecord(due_at=second, stage="2")]
    call = _crawled(
        session, _record("CUTOFFS", deadline_model="multiple_cutoff", deadlines=cut_offs)
    )
    session.commit()
    assert refresh_statuses(session, now=LATER) == 0  # no status change
    session.commit()
    session.expire_all()
    assert (call.status, call.next_deadline_at, call.last_changed_at) == ("open", second, LATER)
    assert _changes(session, call) == {"next_deadline": (DUE.isoformat(), second.isoformat())}


def test_a_second_refresh_changes_nothing(session: Session) -> None:
    call = _crawled(session, _record("ONCE"))
    session.commit()
    assert refresh_statuses(session, now=LATER) == 1
    session.commit()
    assert refresh_statuses(session, now=LATER) == 0
    assert refresh_statuses(session, now=LATER + timedelta(hours=1)) == 0
    session.commit()
    assert session.scalar(select(func.count(CallChange.id))) == 2
    assert session.get(FundingCall, call.id).last_changed_at == LATER


def test_withdrawn_calls_are_left_alone(session: Session) -> None:
    call = _crawled(session, _record("GONE"))
    call.withdrawn_at = STORED + timedelta(days=1)
    call.status = "withdrawn"
    session.commit()
    assert refresh_statuses(session, now=LATER) == 0
    session.commit()
    session.expire_all()
    assert (call.status, call.next_deadline_at) == ("withdrawn", DUE)
    assert session.scalar(select(func.count(CallChange.id))) == 0


def test_a_call_without_deadline_rows_closes_by_its_stored_next_deadline(
    session: Session,
) -> None:
    call = make_call(session, status="open", next_deadline_at=DUE)
    session.commit()
    assert refresh_statuses(session, now=LATER) == 1
    session.commit()
    assert (call.status, call.next_deadline_at) == ("closed", DUE)
    assert _changes(session, call) == {"status": ("open", "closed")}


def test_refresh_works_through_many_calls_in_chunks(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage.housekeeping, "CHUNK", 2)
    for n in range(7):
        _crawled(session, _record(f"MANY-{n}"))
    _crawled(session, _record("OPEN", deadlines=[DeadlineRecord(due_at=NOW, stage="1")]))
    session.commit()
    assert refresh_statuses(session, now=LATER) == 7
    session.commit()
    statuses = session.execute(
        select(FundingCall.status, func.count()).group_by(FundingCall.status)
    )
    assert dict(statuses.all()) == {"closed": 7, "open": 1}


# --- prune --------------------------------------------------------------------------------
def _ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def _crawl_runs(
    session: Session, slug: str, days: list[int], outcome: str = "failed"
) -> list[CrawlRun]:
    source = session.scalar(select(Source).where(Source.slug == slug))
    if source is None:
        source = sync_source(session, {"slug": slug})
    runs = [CrawlRun(source=source, started_at=_ago(d), outcome=outcome) for d in days]
    session.add_all(runs)
    session.flush()
    return runs


def _remaining(session: Session, ids: list[int], model: Any) -> set[int]:
    return set(session.scalars(select(model.id).where(model.id.in_(ids))))


def test_prune_keeps_each_sources_newest_runs_its_last_success_and_all_call_history(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage.housekeeping, "CHUNK", 3)  # several chunks
    # "alt": 14 old runs, only the oldest succeeded. "neu": 12 recent runs, 5 old ones.
    old_success = _crawl_runs(session, "alt", [400], outcome="succeeded")[0]
    alt = _crawl_runs(session, "alt", list(range(200, 213)))  # 200 newest ... 212 oldest
    recent = _crawl_runs(session, "neu", list(range(1, 13)), outcome="succeeded")
    neu_old = _crawl_runs(session, "neu", [181, 190, 250, 300, 365])
    call = _crawled(session, _record("HISTORY"))
    kept_ref = CallChange(call_id=call.id, crawl_run_id=alt[0].id, field="title")
    lost_ref = CallChange(call_id=call.id, crawl_run_id=alt[-1].id, field="summary")
    old_ref = CallChange(call_id=call.id, crawl_run_id=neu_old[0].id, field="status")
    session.add_all([kept_ref, lost_ref, old_ref])
    session.commit()

    report = prune(session, now=NOW)
    session.commit()
    session.expire_all()
    assert (report.crawl_runs, report.call_changes_detached) == (3 + 5, 2)
    ids = [r.id for r in [old_success, *alt, *recent, *neu_old]]
    expected = {old_success.id, *(r.id for r in alt[:10]), *(r.id for r in recent)}
    assert _remaining(session, ids, CrawlRun) == expected
    history = {c.field: c.crawl_run_id for c in session.scalars(select(CallChange))}
    assert history == {"title": alt[0].id, "summary": None, "status": None}
    assert prune(session, now=NOW) == PruneReport()


def _match_run(
    session: Session, days: int, outcome: str = "succeeded", profiles: list[int] | None = None
) -> MatchRun:
    run = MatchRun(started_at=_ago(days), outcome=outcome, parameters={"profile_ids": profiles})
    session.add(run)
    session.flush()
    return run


def test_prune_keeps_the_match_runs_that_matches_and_the_scheduler_still_need(
    session: Session,
) -> None:
    profile = make_profile(session)
    call = _crawled(session, _record("MATCHED"))
    oldest = _match_run(session, 400)
    full = _match_run(session, 300)  # the newest full re-match
    in_use = _match_run(session, 280, profiles=[profile.id])
    newest_success = _match_run(session, 250, profiles=[profile.id])
    failed = _match_run(session, 200, outcome="failed")
    recent = _match_run(session, 10, outcome="failed")
    session.add(
        Match(match_run_id=in_use.id, profile_id=profile.id, call_id=call.id, score=0.4, rank=1)
    )
    session.commit()
    assert last_full_rematch_start(session) == full.started_at

    assert prune(session, now=NOW).match_runs == 2
    session.commit()
    ids = [r.id for r in (oldest, full, in_use, newest_success, failed, recent)]
    assert _remaining(session, ids, MatchRun) == {
        full.id,
        in_use.id,
        newest_success.id,
        recent.id,
    }
    assert session.scalar(select(func.count(Match.id))) == 1
    assert last_full_rematch_start(session) == full.started_at


def _message(
    session: Session, sub: Subscription, state: str, days: int, **values: Any
) -> Notification:
    values.setdefault("created_at", _ago(days))
    message = Notification(
        subscription_id=sub.id,
        kind="digest",
        period=f"{state} {days}",
        recipient=sub.email,
        subject="s",
        body_text="t",
        state=state,
        sent_at=_ago(days) if state == "sent" else None,
        **values,
    )
    session.add(message)
    session.flush()
    return message


def test_prune_deletes_old_finished_messages_but_never_pending_ones_or_what_was_sent(
    session: Session,
) -> None:
    anna = Subscription(email="anna@example.org", kind="search", query={"q": "Jugend"})
    session.add(anna)
    session.flush()
    call = _crawled(session, _record("SENT"))
    sent = _message(session, anna, "sent", 200)
    failed = _message(session, anna, "failed", 300)
    suppressed = _message(session, anna, "suppressed", 190)
    pending = _message(session, anna, "pending", 400, attempts=3)
    fresh = _message(session, anna, "sent", 20)
    # Created long ago, sent only lately: its age counts from the sending.
    late = _message(session, anna, "sent", 30, created_at=_ago(500))
    session.add(
        SubscriptionCall(
            subscription_id=anna.id, call_id=call.id, notification_id=sent.id, sent_at=sent.sent_at
        )
    )
    session.commit()

    report = prune(session, now=NOW)
    session.commit()
    session.expire_all()
    assert (report.notifications, report.subscription_calls_detached) == (3, 1)
    ids = [m.id for m in (sent, failed, suppressed, pending, fresh, late)]
    assert _remaining(session, ids, Notification) == {pending.id, fresh.id, late.id}
    record = session.scalars(select(SubscriptionCall)).one()
    assert (record.call_id, record.notification_id, record.sent_at) == (call.id, None, _ago(200))
    assert seen_call_ids(session, [anna.id]) == {anna.id: {call.id}}  # never sent again


def test_prune_deletes_old_finished_work_and_keeps_each_jobs_newest_runs(
    session: Session,
) -> None:
    def work(state: str, days: int) -> WorkItem:
        finished = _ago(days) if state in ("done", "failed") else None
        item = WorkItem(
            kind="rematch", state=state, created_at=_ago(days + 1), finished_at=finished
        )
        session.add(item)
        return item

    states = [("done", 200), ("failed", 181), ("queued", 300), ("running", 250), ("done", 100)]
    items = [work(state, days) for state, days in states]
    crawl = [
        JobRun(job_id="crawl", started_at=_ago(d), outcome="succeeded") for d in range(181, 206)
    ]
    mail = [JobRun(job_id="mail", started_at=_ago(d), outcome="failed") for d in (300, 400, 500)]
    busy = [JobRun(job_id="match", started_at=_ago(d / 10), outcome="succeeded") for d in range(30)]
    session.add_all([*crawl, *mail, *busy])
    session.commit()

    report = prune(session, now=NOW)
    session.commit()
    assert (report.work_items, report.job_runs) == (2, 5)
    assert _remaining(session, [i.id for i in items], WorkItem) == {i.id for i in items[2:]}
    kept = dict(session.execute(select(JobRun.job_id, func.count()).group_by(JobRun.job_id)).all())
    assert kept == {"crawl": 20, "mail": 3, "match": 30}
    newest_crawl = {r.id for r in crawl[:20]}  # 181 ... 200 days ago
    assert set(session.scalars(select(JobRun.id).where(JobRun.job_id == "crawl"))) == newest_crawl


def test_a_shorter_retention_prunes_more(session: Session) -> None:
    _crawl_runs(session, "kurz", list(range(1, 31)))
    session.commit()
    assert prune(session, now=NOW).crawl_runs == 0  # all within 180 days
    assert prune(session, now=NOW, retention=timedelta(days=7)).crawl_runs == 20
    session.commit()
    assert session.scalar(select(func.count(CrawlRun.id))) == 10
