"""Calls as JSON-ready dictionaries: one shape for the API and the export."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage.deadlines import call_status, next_deadline
from storage.models import FundingCall


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def call_page_url(base_url: str, call_id: int) -> str:
    """The web app's address of a call's page (the route ``/calls/<id>``)."""
    return f"{base_url.rstrip('/')}/calls/{call_id}"


def call_to_dict(
    call: FundingCall, now: datetime | None = None, *, base_url: str = ""
) -> dict[str, Any]:
    """The public fields of a call, with its status as of ``now``; ``page_url`` is the app's
    page for the call when ``base_url`` is given."""
    return {
        "id": call.id,
        "source": call.source,
        "source_id": call.source_id,
        "url": call.url,
        "title": call.title,
        "summary": call.summary,
        "programme": call.programme,
        "call_identifier": call.call_identifier,
        "funder": call.funder,
        "funder_type": call.funder_type,
        "language": call.language,
        "status": call_status(call, now),
        "deadline_model": call.deadline_model,
        "deadlines": [
            {
                "due": _iso(d.due_at),
                "stage": d.stage,
                "label": d.label,
                "recurring": d.recurring_month_day,
                "timezone": d.timezone,
            }
            for d in call.deadlines
        ],
        "next_deadline": _iso(next_deadline(call, now)),
        "eligible_applicants": list(call.eligible_applicants),
        "eligibility_inferred": call.eligibility_inferred,
        "eligibility_evidence": dict(call.eligibility_evidence or {}),
        "min_partners": call.min_partners,
        "min_countries": call.min_countries,
        "single_applicant": call.single_applicant,
        "eligible_countries": list(call.eligible_countries or []),
        "germany_eligible": call.germany_eligible,
        "budget_eur": call.budget_eur,
        "grant_min_eur": call.grant_min_eur,
        "grant_max_eur": call.grant_max_eur,
        "expected_grants": call.expected_grants,
        "funding_rate": call.funding_rate,
        "page_url": call_page_url(base_url, call.id) if base_url else None,
        "first_seen": _iso(call.first_seen_at),
        "last_seen": _iso(call.last_seen_at),
        "last_changed": _iso(call.last_changed_at),
        "details_missing": call.details_missing,
    }
