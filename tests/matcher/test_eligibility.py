"""The hard filters and soft factors, one rule at a time."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from matcher.eligibility import (
    BUDGET_FIT,
    BUDGET_MISFIT,
    DEADLINE_TIGHT,
    TIGHT_MARGIN_DAYS,
    Assessment,
    CallFacts,
    CallTable,
    ProfileFacts,
    call_facts,
    eligible_verdict,
    grant_range,
    regions_allow,
)
from storage.models import APPLICANT_TYPES, CallDeadline
from tests.storage.factories import make_call

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def assess(call: CallFacts, profile: ProfileFacts) -> Assessment | None:
    """The rules for one pair as the ranking applies them: a table of that call alone."""
    return CallTable([call], NOW).verdict(0, profile)


def test_listed_applicant_type_passes_and_unlisted_fails() -> None:
    listed = CallFacts(call_id=1, eligible_applicants=("municipality", "ngo"))
    passed = assess(listed, ProfileFacts(1, "ngo"))
    assert passed is not None and not passed.unknown
    assert (
        assess(CallFacts(call_id=2, eligible_applicants=("company",)), ProfileFacts(1, "ngo"))
        is None
    )


def test_unknown_eligibility_passes_but_is_flagged() -> None:
    verdict = assess(CallFacts(call_id=1), ProfileFacts(1, "ngo"))
    assert verdict is not None and verdict.unknown


@pytest.mark.parametrize(
    ("call_regions", "profile_region", "allowed"),
    [
        ([], "DE-NI", True),  # no restriction
        (["EU"], "DE-NI", True),  # EU covers member states' regions
        (["EU"], "FR", True),
        (["EU"], "UA", False),  # not a member state
        (["DE"], "DE-NI", True),  # a country covers its Länder
        (["DE-NI"], "DE-NI", True),
        (["DE-BY"], "DE-NI", False),  # a Bavarian call is not for Hannover
        (["DE-BY", "DE-NI"], "DE-NI", True),
        (["FR"], "DE-NI", False),
        (["de-ni"], "DE-NI", True),  # case does not matter
        (["WORLD"], "UA", True),
        (["DE-NI"], "DE", False),  # a Land call is not open to every German applicant
    ],
)
def test_region_rule(call_regions: list[str], profile_region: str, allowed: bool) -> None:
    assert regions_allow(call_regions, profile_region) is allowed


def test_deadline_inside_the_lead_time_fails() -> None:
    profile = ProfileFacts(1, "municipality", lead_time_days=28)
    soon = CallFacts(call_id=1, next_deadline_at=NOW + timedelta(days=27))
    later = CallFacts(call_id=2, next_deadline_at=NOW + timedelta(days=29))
    rolling = CallFacts(call_id=3, next_deadline_at=None, deadline_model="rolling")
    assert assess(soon, profile) is None
    assert assess(later, profile) is not None
    assert assess(rolling, profile) is not None


def test_a_deadline_just_beyond_the_lead_time_is_tight() -> None:
    profile = ProfileFacts(1, "municipality", lead_time_days=28)
    tight = assess(CallFacts(call_id=1, next_deadline_at=NOW + timedelta(days=30)), profile)
    roomy = assess(CallFacts(call_id=1, next_deadline_at=NOW + timedelta(days=90)), profile)
    assert tight is not None and roomy is not None
    assert tight.tight and tight.factor == pytest.approx(DEADLINE_TIGHT)
    assert not roomy.tight and roomy.factor == 1.0


@pytest.mark.parametrize(
    ("grant_min", "grant_max", "need_min", "need_max", "note"),
    [
        (20_000, 60_000, 10_000, 50_000, "budget_fits"),
        (None, 5_000, 10_000, 50_000, "grant_too_small"),
        (1_000_000, None, 10_000, 50_000, "grant_too_large"),
        (None, None, 10_000, 50_000, None),
        (20_000, 60_000, None, None, None),
    ],
)
def test_budget_notes(
    grant_min: int | None,
    grant_max: int | None,
    need_min: int | None,
    need_max: int | None,
    note: str | None,
) -> None:
    call = CallFacts(call_id=1, grant_min_eur=grant_min, grant_max_eur=grant_max)
    profile = ProfileFacts(1, "ngo", budget_min_eur=need_min, budget_max_eur=need_max)
    verdict = assess(call, profile)
    assert verdict is not None and verdict.budget == note


def test_budget_from_total_and_expected_grants() -> None:
    profile = ProfileFacts(1, "ngo", budget_min_eur=100_000, budget_max_eur=300_000)
    typical = CallFacts(call_id=1, budget_eur=2_000_000, expected_grants=10)  # 200k each
    tiny = CallFacts(call_id=2, budget_eur=50_000)  # no grant can exceed the whole budget
    assert _verdict(typical, profile).factor == pytest.approx(BUDGET_FIT)
    assert _verdict(tiny, profile).budget == "grant_too_small"
    assert _verdict(tiny, profile).factor == pytest.approx(BUDGET_MISFIT)


def _verdict(call: CallFacts, profile: ProfileFacts) -> Assessment:
    verdict = assess(call, profile)
    assert verdict is not None
    return verdict


def _pairwise(call: CallFacts, profile: ProfileFacts) -> Assessment | None:
    """The rules of the module's doc, written out for one pair, to hold the table to."""
    if call.eligible_applicants and profile.applicant_type not in call.eligible_applicants:
        return None
    if not regions_allow(call.regions, profile.region):
        return None
    tight = False
    if call.next_deadline_at is not None:
        earliest = NOW + timedelta(days=profile.lead_time_days)
        if call.next_deadline_at < earliest:
            return None
        tight = call.next_deadline_at < earliest + timedelta(days=TIGHT_MARGIN_DAYS)
    low, high = grant_range(call)
    need_min, need_max = profile.budget_min_eur, profile.budget_max_eur
    budget = None
    if (low is not None or high is not None) and (need_min is not None or need_max is not None):
        budget = "budget_fits"
        if high is not None and need_min is not None and high < need_min:
            budget = "grant_too_small"
        elif low is not None and need_max is not None and low > need_max:
            budget = "grant_too_large"
    return Assessment(unknown=not call.eligible_applicants, budget=budget, tight=tight)


def test_call_table_agrees_with_the_pairwise_rules() -> None:
    rng = random.Random(3)
    regions = [(), ("EU",), ("DE",), ("DE-BY",), ("DE-NI", "DE-HB"), ("FR",)]
    calls = [
        CallFacts(
            call_id=i,
            eligible_applicants=tuple(rng.sample(APPLICANT_TYPES, rng.randint(0, 3))),
            regions=rng.choice(regions),
            next_deadline_at=rng.choice([None, NOW + timedelta(days=rng.randint(-5, 200))]),
            grant_min_eur=rng.choice([None, 10_000, 500_000]),
            grant_max_eur=rng.choice([None, 60_000, 2_000_000]),
            budget_eur=rng.choice([None, 1_000_000]),
            expected_grants=rng.choice([None, 4]),
        )
        for i in range(300)
    ]
    table = CallTable(calls, NOW)
    for j in range(40):
        profile = ProfileFacts(
            profile_id=j,
            applicant_type=rng.choice(APPLICANT_TYPES),
            region=rng.choice(["DE-NI", "DE", "FR", "UA"]),
            lead_time_days=rng.choice([0, 14, 28, 60]),
            budget_min_eur=rng.choice([None, 20_000, 300_000]),
            budget_max_eur=rng.choice([None, 100_000, 3_000_000]),
        )
        mask = table.mask(profile)
        verdicts = [_pairwise(call, profile) for call in calls]
        assert mask.eligible.tolist() == [v is not None for v in verdicts]
        assert mask.unknown.tolist() == [not call.eligible_applicants for call in calls]
        for row, verdict in enumerate(verdicts):
            assert table.verdict(row, profile) == verdict
            if verdict is not None:
                assert mask.factor[row] == pytest.approx(verdict.factor, rel=1e-6)
                from_mask = eligible_verdict(
                    bool(mask.unknown[row]), int(mask.budget_fit[row]), bool(mask.tight[row])
                )
                assert from_mask == verdict


def test_call_facts_take_the_next_deadline_and_its_time_zone(session) -> None:  # type: ignore[no-untyped-def]
    past = NOW - timedelta(days=3)
    stage1 = datetime(2026, 9, 19, 15, 0, tzinfo=UTC)
    stage2 = datetime(2027, 2, 1, 16, 0, tzinfo=UTC)
    call = make_call(session, deadlines=[past, stage1, stage2])
    call.deadlines[1].timezone = "Europe/Luxembourg"
    facts = call_facts(call, NOW)
    assert facts.next_deadline_at == stage1
    assert facts.deadline_timezone == "Europe/Luxembourg"
    assert facts.status == "open"


def test_recurring_deadline_gives_the_next_yearly_date(session) -> None:  # type: ignore[no-untyped-def]
    call = make_call(session, deadline_model="recurring")
    call.deadlines.append(
        CallDeadline(due_at=None, recurring_month_day="03-31", timezone="Europe/Berlin")
    )
    session.flush()
    facts = call_facts(call, NOW)
    assert facts.next_deadline_at is not None
    assert facts.next_deadline_at.date().isoformat() == "2027-03-31"
