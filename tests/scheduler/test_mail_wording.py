"""How the mails say things: deadlines in local time, changes as sentences, and German for
every text."""

from __future__ import annotations

from datetime import UTC, datetime

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from scheduler.mail_wording import TRANSLATIONS, Wording
from storage.models import CallChange

DAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _change(field: str, old: str | None, new: str | None) -> CallChange:
    return CallChange(field=field, old_value=old, new_value=new, changed_at=DAY)


def test_a_deadline_in_a_zone_that_reads_differently_names_both_times() -> None:
    due = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)
    assert Wording("de", "Europe/Berlin").deadline(due, "Europe/London") == (
        "05.11.2026, 13:00 Uhr (Berlin) – 12:00 Uhr (London)"
    )
    assert Wording("en", "Europe/Berlin").deadline(due, "Europe/Brussels") == (
        "5 Nov 2026, 13:00 Berlin time"
    )


def test_every_text_of_the_mails_has_a_german_translation() -> None:
    keywords = {**DEFAULT_KEYWORDS, "N_": None, "n_": (1, 2)}
    found = extract_from_dir(
        str(TRANSLATIONS.parent),
        method_map=[("**/templates/mail/**", "jinja2"), ("**.py", "python")],
        options_map={"**/templates/mail/**": {"extensions": "jinja2.ext.i18n"}},
        keywords=keywords,
    )
    wanted = {msg if isinstance(msg, str) else msg[0] for _, _, msg, _, _ in found}
    with (TRANSLATIONS / "de" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po)
    translated = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id and m.string}
    assert wanted - translated == set()
    assert len(wanted) > 60


def test_changes_read_as_sentences_one_per_field_from_first_to_last_value() -> None:
    de, en = Wording("de", "Europe/Berlin"), Wording("en", "Europe/Berlin")
    moved = [
        _change("next_deadline", "2026-09-19T15:00:00+00:00", "2026-09-26T15:00:00+00:00"),
        _change("deadlines", "2026-09-19T15:00:00+00:00", "2026-09-26T15:00:00+00:00"),
        _change("next_deadline", "2026-09-26T15:00:00+00:00", "2026-10-03T15:00:00+00:00"),
        _change("funding_rate", "50.0", "60.0"),
        _change("title", "A", "B"),
        _change("title", "B", "A"),
    ]
    assert de.change_sentences(moved) == [
        "Frist verschoben von 19.09.2026 auf 03.10.2026.",
        "Förderquote geändert von 50\xa0% auf 60\xa0%.",
    ]
    assert en.change_sentences(
        [
            _change("next_deadline", "2026-09-19T15:00:00+00:00", "2026-09-19T10:00:00+00:00"),
            _change("eligible_applicants", "municipality", "municipality, ngo"),
            _change("opening_date", None, "2026-10-01"),
            _change("status", "open", "withdrawn"),
        ]
    ) == [
        "Deadline moved from 19 Sep 2026, 17:00 Berlin time to 19 Sep 2026, 12:00 Berlin time.",
        "Who may apply changed from Municipalities to Municipalities, Associations and NGOs.",
        "Opening date now: 1 Oct 2026.",
        "The call is no longer offered by its source (withdrawn).",
    ]
