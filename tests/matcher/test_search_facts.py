"""The search's own filters and counts (numpy over the index's facts) agree with storage's:
the status is ``call_status`` at every moment, the masks are ``apply_filter``, the counts are
``facet_counts``, and a crawl's changes are searchable after the version check's interval."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy.orm import Session

from matcher.search import SearchIndexHolder, build_search_index, search_calls
from matcher.search_facts import STATUS_CODE
from storage.call_filters import CallFilter, facet_counts, filtered_call_ids, sorted_calls
from storage.deadlines import call_status
from storage.matching import load_live_calls
from storage.models import APPLICANT_TYPES, FundingCall
from tests.storage.factories import make_call
from tests.storage.test_call_filters import NOW, _status_zoo, days

TZ = "Europe/Berlin"


def _statuses_of(session: Session, now: datetime, index=None) -> dict[int, str]:  # type: ignore[no-untyped-def]
    index = index or build_search_index(session)
    names = {code: status for status, code in STATUS_CODE.items()}
    codes = index.facts.statuses(now)
    return {int(cid): names[int(c)] for cid, c in zip(index.call_ids, codes, strict=True)}


# Moments around the zoo's deadlines (days -30 … 90), its opening dates and a year later.
MOMENTS = [
    NOW,
    days(-31),
    days(-2) - timedelta(microseconds=1),
    days(-2),
    days(-2) + timedelta(microseconds=1),
    days(9),
    days(10),
    days(10) + timedelta(seconds=1),
    datetime(2027, 1, 9, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2027, 1, 10, tzinfo=UTC),
    days(60) + timedelta(microseconds=1),
    days(400),
]


@pytest.mark.parametrize("moment", MOMENTS)
def test_index_status_is_call_status_at_each_moment(session: Session, moment: datetime) -> None:
    _status_zoo(session)
    session.commit()
    expected = {c.id: call_status(c, moment) for c in load_live_calls(session)}
    assert _statuses_of(session, moment) == expected


def test_status_follows_the_clock_forwards_and_back(session: Session) -> None:
    # One index asked at each moment in turn: only the calls whose deadline or opening date
    # passed are recomputed going forwards; going back, all of them.
    _status_zoo(session)
    session.commit()
    calls = load_live_calls(session)
    index = build_search_index(session)
    for moment in [*sorted(MOMENTS), NOW, days(-31), days(400)]:
        expected = {c.id: call_status(c, moment) for c in calls}
        assert _statuses_of(session, moment, index) == expected, moment


def _varied_corpus(session: Session) -> None:
    rng = random.Random(7)
    for i in range(80):
        deadlines = [days(rng.randint(-60, 120)) for _ in range(rng.randint(0, 3))]
        values = {
            "funder_type": rng.choice(["eu", "federal", "state", "foundation"]),
            "programme": rng.choice(["", "HORIZON", "ERASMUS", "LIFE"]),
            "language": rng.choice(["de", "en"]),
            "status": rng.choice(["open", "forthcoming", "closed"]),
            "eligible_applicants": rng.sample(list(APPLICANT_TYPES), rng.randint(0, 3)),
            "grant_max_eur": rng.choice([None, 10_000, 200_000, 1_000_000]),
            "budget_eur": rng.choice([None, 50_000, 5_000_000]),
            "opening_date": rng.choice([None, date(2026, 10, 1), date(2027, 2, 1)]),
            "deadline_model": rng.choice(["single", "single", "two_stage", "rolling"]),
        }
        if not deadlines:
            values["next_deadline_at"] = rng.choice([None, days(-5), days(20)])
        make_call(session, deadlines=deadlines, source=f"src{i % 3}", **values)
    session.commit()


FILTERS = [
    CallFilter(),
    CallFilter(statuses=()),
    CallFilter(statuses=["closed"], funder_type="eu"),
    CallFilter(applicant_type="ngo"),
    CallFilter(applicant_type="ngo", include_unstated=True, language="de"),
    CallFilter(applicant_type="not-a-type"),
    CallFilter(programme="HORIZON", min_grant_eur=100_000),
    CallFilter(source="src1", deadline_from=days(0).date(), deadline_to=days(60).date()),
    CallFilter(funder_type="municipal"),
    CallFilter(statuses=["open", "forthcoming", "closed", "withdrawn"], min_grant_eur=0),
]


@pytest.mark.parametrize("flt", FILTERS)
def test_masks_and_counts_are_storage_sql(session: Session, flt: CallFilter) -> None:
    _varied_corpus(session)
    index = build_search_index(session)
    masks = index.facts.masks(flt, NOW, TZ)
    kept = np.ones(len(index.call_ids), dtype=bool)
    for mask in masks.values():
        kept &= mask
    live = set(index.call_ids.tolist())
    expected = set(filtered_call_ids(session, flt, NOW, timezone=TZ)) & live
    assert set(index.call_ids[kept].tolist()) == expected
    counted = facet_counts(session, flt, within=live, now=NOW, timezone=TZ)
    everything = np.ones(len(index.call_ids), dtype=bool)
    mine = index.facts.counts(masks, everything, NOW)
    assert mine == {name: dict(counter) for name, counter in counted.items()}


@pytest.mark.parametrize("sort", ["deadline", "newest"])
def test_order_is_the_pages_sql_order(session: Session, sort: str) -> None:
    _varied_corpus(session)
    for i, call in enumerate(session.query(FundingCall).order_by(FundingCall.id)):
        call.first_seen_at = days(-(i % 7))  # ties, broken by id
    session.commit()
    index = build_search_index(session)
    flt = CallFilter(statuses=())
    rows = np.arange(len(index.call_ids))
    scores = np.zeros(len(rows), dtype=np.float32)
    for first in (1, 10, len(rows)):
        mine = index.call_ids[index.facts.order(rows, scores, sort, first)].tolist()
        calls, _ = sorted_calls(session, flt, sort=sort, limit=first, now=NOW)
        assert mine == [c.id for c in calls]


def test_new_calls_are_searchable_after_the_check_interval(session: Session) -> None:
    make_call(session, title="Town twinning for citizens", status="open", deadlines=[days(30)])
    session.commit()
    clock = [100.0]
    holder = SearchIndexHolder(check_every=5.0, clock=lambda: clock[0])
    flt = CallFilter(text="youth exchange")
    assert search_calls(session, flt, index=holder.get, now=NOW).total == 0
    make_call(session, title="Youth exchange with Poland", status="open", deadlines=[days(30)])
    session.commit()
    clock[0] += 1.0  # within the interval the index is not asked again
    assert search_calls(session, flt, index=holder.get, now=NOW).total == 0
    clock[0] += 5.0
    found = search_calls(session, flt, index=holder.get, now=NOW)
    assert [hit.call.title for hit in found.hits] == ["Youth exchange with Poland"]


@pytest.mark.parametrize("flt", [f for f in FILTERS if "withdrawn" not in f.statuses])
@pytest.mark.parametrize("sort", ["deadline", "newest"])
def test_a_search_without_words_answers_from_the_index_as_sql_does(
    session: Session, flt: CallFilter, sort: str
) -> None:
    _varied_corpus(session)
    index = build_search_index(session)
    by_index = search_calls(session, flt, index=index, sort=sort, per_page=10, facets=True,
                            now=NOW, timezone=TZ)  # fmt: skip
    by_sql = search_calls(session, flt, sort=sort, per_page=10, facets=True, now=NOW,
                          timezone=TZ)  # fmt: skip
    assert [h.call.id for h in by_index.hits] == [h.call.id for h in by_sql.hits]
    assert by_index.total == by_sql.total
    # SQL also counts withdrawn calls, which the index leaves out.
    sql_counts = {k: dict(v) for k, v in by_sql.facets.items()}
    sql_counts["statuses"]["withdrawn"] = by_index.facets["statuses"].get("withdrawn", 0)
    assert by_index.facets == sql_counts
