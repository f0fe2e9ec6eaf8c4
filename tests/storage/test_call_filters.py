"""The SQL filters of a search: status from dates (agreeing with ``call_status``), who may
apply, money, deadlines, sorting and the counts of each filter's choices."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from storage.call_filters import CallFilter, facet_counts, filtered_call_ids, sorted_calls
from storage.deadlines import call_status
from storage.models import CALL_STATUSES, CallDeadline, FundingCall
from tests.storage.factories import make_call

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def days(n: int) -> datetime:
    return NOW + timedelta(days=n)


def _status_zoo(session: Session) -> list[FundingCall]:
    """Calls in every state the status rules distinguish, several stored with a stale status."""
    calls = [
        make_call(session, status="open", deadlines=[days(10)]),
        # Its only deadline passed after the last crawl: the stored "open" is stale.
        make_call(session, status="open", deadlines=[days(-2)], next_deadline_at=days(-2)),
        make_call(session, status="forthcoming", deadlines=[days(-30)]),
        make_call(session, status="open", opening_date=date(2027, 1, 10), deadlines=[days(90)]),
        make_call(
            session, status="forthcoming", opening_date=date(2026, 11, 1), deadlines=[days(9)]
        ),
        make_call(session, status="forthcoming", deadlines=[days(90)]),
        make_call(session, deadline_model="rolling", status="closed"),
        make_call(session, deadlines=[days(30)], withdrawn_at=days(-1)),
        make_call(session, deadline_model="two_stage", deadlines=[days(-3), days(60)]),
        make_call(session, deadline_model="multiple_cutoff", deadlines=[days(-5), days(60)]),
        make_call(session, status="closed"),
        make_call(session, status="open"),
        make_call(session, status="open", next_deadline_at=days(-1)),
    ]
    yearly = make_call(session, deadline_model="recurring", status="open")
    yearly.deadlines.append(CallDeadline(recurring_month_day="09-30", stage=""))
    calls.append(yearly)
    session.flush()
    return calls


@pytest.mark.parametrize("status", CALL_STATUSES)
def test_sql_status_agrees_with_call_status(session: Session, status: str) -> None:
    calls = _status_zoo(session)
    session.commit()
    expected = {c.id for c in calls if call_status(c, NOW) == status}
    found = set(filtered_call_ids(session, CallFilter(statuses=[status]), NOW))
    assert found == expected
    assert expected  # every status occurs in the zoo, so the comparison means something


def test_call_whose_deadline_passed_since_the_crawl_is_closed(session: Session) -> None:
    stale = make_call(session, status="open", deadlines=[days(-2)], next_deadline_at=days(-2))
    session.commit()
    assert filtered_call_ids(session, CallFilter(), NOW) == []
    assert filtered_call_ids(session, CallFilter(statuses=["closed"]), NOW) == [stale.id]


def test_applicant_filter_names_the_type_unless_unstated_is_asked_for(session: Session) -> None:
    ngo = make_call(session, status="open", eligible_applicants=["ngo", "company"])
    make_call(session, status="open", eligible_applicants=["research"])
    unstated = make_call(session, status="open", eligible_applicants=[])
    session.commit()
    assert filtered_call_ids(session, CallFilter(applicant_type="ngo"), NOW) == [ngo.id]
    both = filtered_call_ids(session, CallFilter(applicant_type="ngo", include_unstated=True), NOW)
    assert sorted(both) == sorted([ngo.id, unstated.id])


def test_money_deadline_and_funder_filters(session: Session) -> None:
    big = make_call(session, status="open", grant_max_eur=500_000, funder_type="eu",
                    deadlines=[days(40)])  # fmt: skip
    budget_only = make_call(session, status="open", budget_eur=80_000, funder_type="federal",
                            deadlines=[days(5)])  # fmt: skip
    make_call(session, status="open", grant_max_eur=10_000, deadlines=[days(40)])
    session.commit()
    rich = filtered_call_ids(session, CallFilter(min_grant_eur=50_000), NOW)
    assert sorted(rich) == sorted([big.id, budget_only.id])
    assert filtered_call_ids(session, CallFilter(funder_type="eu"), NOW) == [big.id]
    soon = CallFilter(deadline_to=(NOW + timedelta(days=10)).date())
    assert filtered_call_ids(session, soon, NOW) == [budget_only.id]
    later = CallFilter(deadline_from=(NOW + timedelta(days=30)).date(), min_grant_eur=100_000)
    assert filtered_call_ids(session, later, NOW) == [big.id]


def test_sorted_calls_pages_by_deadline_or_newest(session: Session) -> None:
    made = [make_call(session, status="open", deadlines=[days(20 - i)]) for i in range(7)]
    for i, call in enumerate(made):
        call.first_seen_at = days(-10 + i)
    session.commit()
    first, total = sorted_calls(session, CallFilter(), limit=3, now=NOW)
    assert total == 7
    assert [c.id for c in first] == [made[6].id, made[5].id, made[4].id]
    last, _ = sorted_calls(session, CallFilter(), limit=3, offset=6, now=NOW)
    assert [c.id for c in last] == [made[0].id]
    newest, _ = sorted_calls(session, CallFilter(), sort="newest", limit=2, now=NOW)
    assert [c.id for c in newest] == [made[6].id, made[5].id]


def test_facet_counts_say_what_each_choice_leaves(session: Session) -> None:
    make_call(session, status="open", funder_type="eu", eligible_applicants=["ngo"],
              deadlines=[days(10)])  # fmt: skip
    make_call(session, status="open", funder_type="eu", eligible_applicants=[],
              deadlines=[days(10)])  # fmt: skip
    make_call(session, status="open", funder_type="foundation", eligible_applicants=["ngo"],
              deadlines=[days(10)])  # fmt: skip
    make_call(session, status="open", funder_type="eu", deadlines=[days(-10)],
              next_deadline_at=days(-10))  # fmt: skip
    session.commit()
    counts = facet_counts(session, CallFilter(funder_type="eu"), now=NOW)
    # The funder type's own counts ignore the chosen funder type; the others keep it.
    assert counts["funder_type"] == {"eu": 2, "foundation": 1}
    assert counts["applicant_type"] == {"ngo": 1, "unstated": 1}
    assert counts["statuses"]["open"] == 2
    assert counts["statuses"]["closed"] == 1


def test_a_saved_search_round_trips_and_keeps_only_what_filters() -> None:
    from storage.call_filters import CallFilter

    flt = CallFilter(
        text="Städtepartnerschaft",
        applicant_type="ngo",
        include_unstated=True,
        statuses=("open",),
        deadline_to=date(2027, 3, 31),
        min_grant_eur=5000,
    )
    saved = flt.to_dict()
    assert saved == {
        "text": "Städtepartnerschaft",
        "statuses": ["open"],
        "applicant_type": "ngo",
        "include_unstated": True,
        "deadline_to": "2027-03-31",
        "min_grant_eur": 5000,
    }
    assert CallFilter.from_dict(saved) == flt
    assert CallFilter().to_dict() == {}
    assert CallFilter.from_dict({"deadline_from": "31.12.", "colour": "red"}) == CallFilter()
