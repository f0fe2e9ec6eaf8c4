"""A call's change records told as sentences in the reader's language.

The store keeps old and new values as plain text (ISO times, euro amounts as digits, applicant
codes); this module turns them back into what the page shows elsewhere.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from flask_babel import gettext as _

from storage.models import CallChange
from webui import formatting, labels

MONEY = frozenset({"budget_eur", "grant_min_eur", "grant_max_eur"})
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:[+-]\d\d:\d\d|Z)?")
STAGE = re.compile(r"\(stage (\d+)\)")


def _when(match: re.Match[str], timezone: str) -> str:
    try:
        moment = datetime.fromisoformat(match.group(0))
    except ValueError:
        return match.group(0)
    return formatting.local_datetime(moment, timezone) if moment.tzinfo else match.group(0)


def shown_value(field: str, raw: str | None, timezone: str) -> str:
    """``raw`` as the page shows that field; "–" for nothing."""
    if not raw:
        return "–"
    if field in MONEY:
        try:
            return formatting.euros(float(raw))
        except ValueError:
            return raw
    if field == "funding_rate":
        return f"{raw} %"
    if field == "status":
        return str(labels.STATUS.get(raw, raw))
    if field == "deadline_model":
        return str(labels.DEADLINE_MODEL.get(raw, raw))
    if field == "eligible_applicants":
        return ", ".join(str(labels.APPLICANT.get(a.strip(), a.strip())) for a in raw.split(","))
    if field == "opening_date" and len(raw) == 10:
        try:
            return formatting.local_date(date.fromisoformat(raw), timezone)
        except ValueError:
            return raw
    text = ISO_TIME.sub(lambda m: _when(m, timezone), raw)
    return STAGE.sub(lambda m: _("(stage %(n)s)", n=m.group(1)), text)


def describe(change: CallChange, timezone: str) -> str:
    """One sentence: when, what, from what to what (long texts are said to be revised)."""
    day = formatting.local_date(change.changed_at, timezone)
    what = str(labels.CHANGED_FIELD.get(change.field, change.field))
    if change.field in labels.TEXT_FIELDS:
        return _("Revised on %(day)s: %(what)s.", day=day, what=what)
    return _(
        "Changed on %(day)s – %(what)s: “%(old)s” → “%(new)s”.",
        day=day,
        what=what,
        old=shown_value(change.field, change.old_value, timezone),
        new=shown_value(change.field, change.new_value, timezone),
    )
