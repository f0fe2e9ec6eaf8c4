"""Who may apply where and when: the hard filters and soft factors of ranking.

The rules, in the words a service desk uses:

Hard filters (a call that fails one is never ranked for the profile):

- **Applicant type**: the profile's applicant type must be among the call's eligible
  applicants. A call whose eligibility is unknown (empty list) passes, but the match is
  flagged ``eligibility_unknown`` ("Antragsberechtigung unbekannt – bitte prüfen").
- **Region**: a call's ``regions`` list says where applicants must be based. Empty means
  anywhere. ``EU`` covers every EU member state and its subdivisions. A country code covers
  itself and its subdivisions (``DE`` covers ``DE-NI``). A subdivision covers only itself, so
  a Bavarian call (``DE-BY``) is not shown to a Hannover profile (``DE-NI``). ``WORLD`` and
  ``INT`` mean anywhere. A profile passes if any of the call's regions covers it.
- **Lead time**: the next deadline must be at least the profile's ``lead_time_days`` away.
  Calls without a known next deadline (rolling calls, calls not yet dated) pass.

Soft factors (small multiplicative adjustments of the text similarity, see
:data:`BUDGET_FIT`, :data:`BUDGET_MISFIT`, :data:`DEADLINE_TIGHT`):

- **Budget fit**: the call's grant range (``grant_min_eur``..``grant_max_eur``; else
  ``budget_eur / expected_grants`` as the typical grant; else ``budget_eur`` as the upper
  bound) against the profile's budget need (``budget_min_eur``..``budget_max_eur``). Ranges
  overlap: ×1.10. The largest grant is below the profile's minimum need, or the smallest
  grant is above its maximum: ×0.90. Anything unknown on either side: ×1.0.
- **Time to deadline**: a deadline less than 14 days beyond the lead time leaves little
  room to prepare: ×0.95. Otherwise ×1.0.

The rules are evaluated for all calls at once with numpy (:class:`CallTable`), because a full
re-match checks tens of millions of (profile, call) pairs.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

from storage.deadlines import call_status, next_deadline, next_due
from storage.models import APPLICANT_TYPES, FundingCall, Profile

# fmt: off
EU_MEMBER_STATES = frozenset({
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
})
# fmt: on
ANYWHERE = frozenset({"WORLD", "INT"})
BUDGET_FIT = 1.10
BUDGET_MISFIT = 0.90
DEADLINE_TIGHT = 0.95
TIGHT_MARGIN_DAYS = 14
DEFAULT_TIMEZONE = "Europe/Brussels"
_APPLICANT_BIT = {name: 1 << i for i, name in enumerate(APPLICANT_TYPES)}


@dataclass(frozen=True)
class CallFacts:
    """What the rules need to know about a call, independent of the database."""

    call_id: int
    status: str = "open"  # "open" or "forthcoming"
    eligible_applicants: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    next_deadline_at: datetime | None = None  # UTC
    deadline_timezone: str = DEFAULT_TIMEZONE
    deadline_model: str = "single"
    opening_date: date | None = None
    grant_min_eur: int | None = None
    grant_max_eur: int | None = None
    budget_eur: int | None = None
    expected_grants: int | None = None


@dataclass(frozen=True)
class ProfileFacts:
    """What the rules need to know about a profile."""

    profile_id: int
    applicant_type: str
    region: str = "DE-NI"
    lead_time_days: int = 28
    budget_min_eur: int | None = None
    budget_max_eur: int | None = None


def call_facts(call: FundingCall, now: datetime) -> CallFacts:
    """The facts of a stored call as of ``now`` (deadlines must be loaded)."""
    found = next_due(call.deadlines, call.deadline_model, now)
    if found is not None:
        due, tz_name = found
    else:
        due, tz_name = next_deadline(call, now), DEFAULT_TIMEZONE
    return CallFacts(
        call_id=call.id,
        status=call_status(call, now),
        eligible_applicants=tuple(call.eligible_applicants or ()),
        regions=tuple(r.strip().upper() for r in (call.regions or ()) if r and r.strip()),
        next_deadline_at=due,
        deadline_timezone=tz_name,
        deadline_model=call.deadline_model,
        opening_date=call.opening_date,
        grant_min_eur=call.grant_min_eur,
        grant_max_eur=call.grant_max_eur,
        budget_eur=call.budget_eur,
        expected_grants=call.expected_grants,
    )


def profile_facts(profile: Profile) -> ProfileFacts:
    """The facts of a stored profile."""
    return ProfileFacts(
        profile_id=profile.id,
        applicant_type=profile.applicant_type,
        region=(profile.region or "").strip().upper(),
        lead_time_days=profile.lead_time_days or 0,
        budget_min_eur=profile.budget_min_eur,
        budget_max_eur=profile.budget_max_eur,
    )


def region_covers(call_region: str, profile_region: str) -> bool:
    """Whether a call open to ``call_region`` accepts applicants based in ``profile_region``."""
    call_region = call_region.strip().upper()
    profile_region = profile_region.strip().upper()
    if call_region in ANYWHERE or call_region == profile_region:
        return True
    country = profile_region.split("-", 1)[0]
    if call_region == "EU":
        return country in EU_MEMBER_STATES or profile_region == "EU"
    # A country covers its subdivisions; a subdivision covers only itself.
    return "-" not in call_region and call_region == country


def regions_allow(call_regions: Sequence[str], profile_region: str) -> bool:
    """The region rule: an empty list means anywhere, else any listed region must cover."""
    if not call_regions:
        return True
    return any(region_covers(region, profile_region) for region in call_regions)


def grant_range(facts: CallFacts) -> tuple[float | None, float | None]:
    """The call's (smallest, largest) grant in EUR as far as known (see the module doc)."""
    low = float(facts.grant_min_eur) if facts.grant_min_eur else None
    high = float(facts.grant_max_eur) if facts.grant_max_eur else None
    if low is None and high is None and facts.budget_eur:
        if facts.expected_grants:
            low = high = facts.budget_eur / facts.expected_grants
        else:
            high = float(facts.budget_eur)
    return low, high


@dataclass(frozen=True)
class ProfileMask:
    """The rules applied to one profile over all calls of a :class:`CallTable`."""

    eligible: np.ndarray  # bool, per call: passes every hard filter
    unknown: np.ndarray  # bool, per call: eligibility unknown
    factor: np.ndarray  # float32, per call: product of the soft factors
    budget_fit: np.ndarray  # int8: 1 fits, -1 too small, -2 too large, 0 unknown
    tight: np.ndarray  # bool: deadline tight


class CallTable:
    """The facts of many calls as arrays, so rules run for all calls of a profile at once.

    The parts of a mask are cached per distinct rule input (applicant type, region, lead time,
    budget), because many profiles share them.
    """

    def __init__(self, facts: Sequence[CallFacts], now: datetime):
        self.facts = list(facts)
        self.now = now
        n = len(self.facts)
        self.call_ids = np.fromiter((f.call_id for f in self.facts), dtype=np.int64, count=n)
        self.applicant_bits = np.fromiter(
            (sum(_APPLICANT_BIT.get(a, 0) for a in set(f.eligible_applicants)) for f in self.facts),
            dtype=np.int64,
            count=n,
        )
        # Calls that list only types outside the vocabulary have bits 0 but are not unknown.
        self.unknown = np.fromiter(
            (not f.eligible_applicants for f in self.facts), dtype=bool, count=n
        )
        self.deadline_ts = np.fromiter(
            (
                f.next_deadline_at.timestamp() if f.next_deadline_at is not None else math.nan
                for f in self.facts
            ),
            dtype=np.float64,
            count=n,
        )
        region_keys: dict[tuple[str, ...], int] = {}
        self.region_index = np.fromiter(
            (region_keys.setdefault(f.regions, len(region_keys)) for f in self.facts),
            dtype=np.int64,
            count=n,
        )
        self.region_sets = list(region_keys)
        ranges = [grant_range(f) for f in self.facts]
        self.grant_low = np.array([math.nan if lo is None else lo for lo, _ in ranges], dtype=float)
        self.grant_high = np.array(
            [math.nan if hi is None else hi for _, hi in ranges], dtype=float
        )
        self._cache: dict[tuple[object, ...], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.facts)

    def _applicant(self, applicant_type: str) -> np.ndarray:
        key = ("applicant", applicant_type)
        if key not in self._cache:
            bit = _APPLICANT_BIT.get(applicant_type, 0)
            self._cache[key] = self.unknown | ((self.applicant_bits & bit) != 0)
        return self._cache[key]

    def _region(self, region: str) -> np.ndarray:
        key = ("region", region)
        if key not in self._cache:
            allowed = np.array([regions_allow(r, region) for r in self.region_sets], dtype=bool)
            self._cache[key] = (
                allowed[self.region_index] if len(allowed) else np.zeros(0, dtype=bool)
            )
        return self._cache[key]

    def _lead(self, lead_time_days: int) -> tuple[np.ndarray, np.ndarray]:
        key = ("lead", lead_time_days)
        if key not in self._cache:
            now_ts = self.now.timestamp()
            earliest = now_ts + lead_time_days * 86400.0
            tight_limit = earliest + TIGHT_MARGIN_DAYS * 86400.0
            known = ~np.isnan(self.deadline_ts)
            with np.errstate(invalid="ignore"):
                ok = ~known | (self.deadline_ts >= earliest)
                tight = known & (self.deadline_ts < tight_limit) & ok
            self._cache[key] = ok
            self._cache[("tight", lead_time_days)] = tight
        return self._cache[key], self._cache[("tight", lead_time_days)]

    def _budget(self, need_min: int | None, need_max: int | None) -> np.ndarray:
        key = ("budget", need_min, need_max)
        if key not in self._cache:
            fit = np.zeros(len(self), dtype=np.int8)
            if need_min is not None or need_max is not None:
                known = ~(np.isnan(self.grant_low) & np.isnan(self.grant_high))
                with np.errstate(invalid="ignore"):
                    small = (
                        ~np.isnan(self.grant_high) & (self.grant_high < need_min)
                        if need_min is not None
                        else np.zeros(len(self), dtype=bool)
                    )
                    large = (
                        ~np.isnan(self.grant_low) & (self.grant_low > need_max)
                        if need_max is not None
                        else np.zeros(len(self), dtype=bool)
                    )
                fit[known] = 1
                fit[small] = -1
                fit[large & ~small] = -2
            self._cache[key] = fit
        return self._cache[key]

    def verdict(self, row: int, profile: ProfileFacts) -> Assessment | None:
        """The rules for the call at ``row`` and ``profile``; None where a hard filter fails."""
        mask = self.mask(profile)
        if not mask.eligible[row]:
            return None
        return eligible_verdict(
            bool(mask.unknown[row]), int(mask.budget_fit[row]), bool(mask.tight[row])
        )

    def mask(self, profile: ProfileFacts) -> ProfileMask:
        """The hard filters and soft factors for ``profile`` over every call."""
        lead_ok, tight = self._lead(profile.lead_time_days)
        eligible = self._applicant(profile.applicant_type) & self._region(profile.region) & lead_ok
        fit = self._budget(profile.budget_min_eur, profile.budget_max_eur)
        factor = np.ones(len(self), dtype=np.float32)
        factor[fit == 1] = BUDGET_FIT
        factor[fit < 0] = BUDGET_MISFIT
        factor[tight] *= DEADLINE_TIGHT
        return ProfileMask(
            eligible=eligible, unknown=self.unknown, factor=factor, budget_fit=fit, tight=tight
        )


@dataclass(frozen=True)
class Assessment:
    """What an explanation says of a (profile, call) pair that passed the hard filters."""

    unknown: bool  # eligibility unknown
    budget: str | None  # budget_fits / grant_too_small / grant_too_large / None
    tight: bool

    @property
    def factor(self) -> float:
        """The soft factors: budget fit or misfit, and a tight deadline."""
        factor = 1.0
        if self.budget == "budget_fits":
            factor *= BUDGET_FIT
        elif self.budget is not None:
            factor *= BUDGET_MISFIT
        if self.tight:
            factor *= DEADLINE_TIGHT
        return factor


# ProfileMask.budget_fit codes and the notes they stand for.
_BUDGET_NOTES = {1: "budget_fits", -1: "grant_too_small", -2: "grant_too_large", 0: None}


@functools.cache
def eligible_verdict(unknown: bool, budget_fit: int, tight: bool) -> Assessment:
    """The assessment of a pair that passed :meth:`CallTable.mask`, from the mask's facts
    for it (eligibility unknown, ``budget_fit`` code, deadline tight): explaining 50,000
    ranked pairs reads these instead of applying the rules again."""
    return Assessment(unknown=unknown, budget=_BUDGET_NOTES[budget_fit], tight=tight)
