"""Change records read as sentences with values shown as the page shows them."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask

from storage.models import CallChange
from webui.change_history import describe

DAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def change(field: str, old: str | None, new: str | None) -> CallChange:
    return CallChange(field=field, old_value=old, new_value=new, changed_at=DAY)


def test_money_times_and_codes_are_shown_not_stored_text(app: Flask) -> None:
    with app.test_request_context(headers={"Accept-Language": "de"}):
        assert describe(change("grant_max_eur", "50000", "60000"), "Europe/Berlin") == (
            "Am 30.11.2026 geändert – Höchstfördersumme: „50.000\xa0€“ → „60.000\xa0€“."
        )
        sentence = describe(
            change("deadlines", "2027-01-17T16:00:00+00:00 (stage 1)", None), "Europe/Berlin"
        )
        assert "17.01.2027, 17:00 Uhr (Berlin) (Stufe 1)" in sentence and "„–“" in sentence
        assert "offen“ → „geschlossen" in describe(change("status", "open", "closed"), "UTC")
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert describe(change("eligible_applicants", "ngo, municipality", "ngo"), "UTC") == (
            "Changed on 30 Nov 2026 – Who may apply: “Association / NGO, Municipality”"
            " → “Association / NGO”."
        )
        assert describe(change("description", "a", "b"), "UTC") == (
            "Revised on 30 Nov 2026: Description."
        )
