"""Shared queries: status derived from dates, search filters and paging."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session

from storage.deadlines import call_status, next_deadline
from tests.storage.factories import make_call

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def days(n: int) -> datetime:
    return NOW + timedelta(days=n)


def test_status_comes_from_dates_not_from_the_source(session: Session) -> None:
    stale = make_call(session, status="forthcoming", deadlines=[days(-30)])
    assert call_status(stale, NOW) == "closed"
    opens_later = make_call(
        session, status="open", opening_date=date(2027, 1, 10), deadlines=[days(90)]
    )
    assert call_status(opens_later, NOW) == "forthcoming"
    rolling = make_call(session, deadline_model="rolling", status="closed")
    assert call_status(rolling, NOW) == "open"
    withdrawn = make_call(session, deadlines=[days(30)], withdrawn_at=days(-1))
    assert call_status(withdrawn, NOW) == "withdrawn"


def test_source_status_counts_only_where_the_dates_are_silent(session: Session) -> None:
    no_opening = make_call(session, status="forthcoming", deadlines=[days(90)])
    assert call_status(no_opening, NOW) == "forthcoming"
    opened = make_call(
        session, status="forthcoming", opening_date=date(2026, 11, 1), deadlines=[days(90)]
    )
    assert call_status(opened, NOW) == "open"
    stale = make_call(session, status="forthcoming", deadlines=[days(-400)])
    assert call_status(stale, NOW) == "closed"


def test_two_stage_call_closes_for_new_applicants_after_stage_one(session: Session) -> None:
    call = make_call(session, deadline_model="two_stage", deadlines=[days(10), days(60)])
    assert call_status(call, NOW) == "open"
    assert next_deadline(call, NOW) == days(10)
    # Stage 2 is for invited applicants only: after stage 1 nobody new can apply.
    assert call_status(call, days(11)) == "closed"
    assert next_deadline(call, days(11)) is None


def test_multiple_cutoff_call_stays_open_until_its_last_cutoff(session: Session) -> None:
    call = make_call(session, deadline_model="multiple_cutoff", deadlines=[days(-5), days(60)])
    assert call_status(call, NOW) == "open"
    assert next_deadline(call, NOW) == days(60)
