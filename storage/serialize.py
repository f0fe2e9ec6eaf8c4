"""Calls as JSON-ready dictionaries: one shape for the API and the export."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage.deadlines import call_status, next_deadline
from storage.models import FundingCall


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def call_to_dict(call: FundingCall, now: datetime | None = None) -> dict[str, Any]:
    """The public fields of a call, with its status as of ``now``."""
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
            }
            for d in call.deadlines
        ],
        "next_deadline": _iso(next_deadline(call, now)),
        "eligible_applicants": list(call.eligible_applicants),
        "eligibility_inferred": call.eligibility_inferred,
        "budget_eur": call.budget_eur,
        "first_seen": _iso(call.first_seen_at),
        "last_changed": _iso(call.last_changed_at),
    }
