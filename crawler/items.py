"""The one item every spider yields: a funding call as the source wrote it.

Spiders only parse: every ``*_raw`` field and every list here holds the source's own text
(dates, amounts, applicant terms). The pipelines normalise, validate and store it, so the
rules for dates, money and eligibility live in one place (``crawler.normalize`` and
``storage``), not in each spider.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(kw_only=True)
class FundingCallItem:
    """One call as parsed from a source. Only ``source``, ``source_id``, ``url`` and
    ``title`` are required; everything else may stay empty when the source does not say."""

    source: str  # slug of the source (sources.yaml)
    source_id: str  # stable id within the source (EU: the topic identifier)
    url: str  # the page a person reads
    title: str
    summary: str = ""
    description_html: str = ""  # raw HTML; sanitised by the pipeline
    conditions_html: str = ""  # raw HTML: who may apply, admissibility
    language: str = ""  # "de" / "en"; "" = detect from the text
    funder: str = ""
    funder_type: str = ""  # "" = the source's funder type from sources.yaml
    programme: str = ""
    call_identifier: str = ""
    type_of_action: str = ""
    status_source: str = ""  # the source's own status word, kept for cross-checks only
    opening_date_raw: str | int = ""
    deadline_model: str = ""  # hint: single / two_stage / multiple_cutoff / rolling / recurring
    # Each deadline: {"raw": str | int, "stage": str, "label": str}
    deadlines: list[dict[str, Any]] = field(default_factory=list)
    budget_raw: str | int | float | None = None  # total for this call/topic only
    grant_min_raw: str | int | float | None = None
    grant_max_raw: str | int | float | None = None
    expected_grants: int | None = None
    funding_rate_raw: str | int | float | None = None
    applicants_raw: list[str] = field(default_factory=list)  # the source's applicant terms
    eligibility_text: str = ""  # inferred from when applicants_raw is empty
    regions: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    attribution: str = ""
    # Sources that fetch a details page per call (EU topics): a hash of the search record,
    # and what became of the details this run (DETAILS_STATES).
    record_hash: str = ""
    details: str = "fetched"


# "fetched": the item carries its details; "missing": the details request failed, the item
# holds the search record alone and is fetched again next run; "skipped": the search record
# is unchanged and the stored details are fresh, so they stand (the item carries none).
DETAILS_STATES = ("fetched", "missing", "skipped")
