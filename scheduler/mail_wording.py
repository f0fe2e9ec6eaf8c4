"""How the mails say things, in the subscriber's language: dates and deadlines in local time,
sums of money, who may apply, and a call's changes as plain sentences.

Message ids are English; ``scheduler/translations/de`` holds the German (the scheduler's own
small catalog: the web app's lives in ``webui``, which the scheduler may not import). Times
are shown as the web pages show them: in the installation's zone, named by its city —
"03.10.2026, 17:00 Uhr (Berlin)" / "3 Oct 2026, 17:00 Berlin time".
"""

from __future__ import annotations

import gettext
import logging
from datetime import date, datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_datetime, get_timezone_location
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal

from matcher.reasons import APPLICANT_LABELS
from storage.models import CallChange

log = logging.getLogger(__name__)

TRANSLATIONS = Path(__file__).parent / "translations"
LANGUAGES = ("de", "en")
FALLBACK_ZONE = "Europe/Berlin"
DATETIME = {
    "de": ("dd.MM.yyyy, HH:mm", "{time} Uhr ({city})"),
    "en": ("d MMM yyyy, HH:mm", "{time} {city} time"),
}
TIME = {"de": ("HH:mm", "{time} Uhr ({city})"), "en": ("HH:mm", "{time} {city} time")}
DATE = {"de": "dd.MM.yyyy", "en": "d MMM yyyy"}
MONEY = {"de": "#,##0\u00a0¤", "en": "¤#,##0"}


def N_(message: str) -> str:
    """Mark ``message`` for the catalog; it is translated where it is shown."""
    return message


FIELD_NAMES = {
    "title": N_("Title"),
    "summary": N_("Summary"),
    "description": N_("Description"),
    "conditions": N_("Conditions"),
    "url": N_("Link to the call"),
    "funder": N_("Funder"),
    "programme": N_("Programme"),
    "call_identifier": N_("Identifier"),
    "type_of_action": N_("Type of action"),
    "status": N_("Status"),
    "opening_date": N_("Opening date"),
    "deadline_model": N_("Deadline model"),
    "deadlines": N_("Deadlines"),
    "next_deadline": N_("Next deadline"),
    "budget_eur": N_("Total budget"),
    "grant_min_eur": N_("Minimum grant"),
    "grant_max_eur": N_("Maximum grant"),
    "expected_grants": N_("Expected number of grants"),
    "funding_rate": N_("Funding rate"),
    "eligible_applicants": N_("Who may apply"),
}
STATUS_NOW = {
    "open": N_("The call is open now."),
    "forthcoming": N_("The call is announced but not open yet."),
    "closed": N_("The call is closed now."),
    "withdrawn": N_("The call is no longer offered by its source (withdrawn)."),
}
DEADLINE_MODELS = {
    "single": N_("one deadline"),
    "two_stage": N_("two stages (stage 2 by invitation only)"),
    "multiple_cutoff": N_("several cut-off dates"),
    "rolling": N_("rolling, no deadline"),
    "recurring": N_("recurring every year"),
    "none": N_("no deadline stated"),
}
TEXT_FIELDS = frozenset({"summary", "description", "conditions"})
MONEY_FIELDS = frozenset({"budget_eur", "grant_min_eur", "grant_max_eur"})


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The scheduler's catalog for ``lang`` (English: the message ids themselves).

    Read from the compiled ``messages.mo``; where that is missing or older than the ``.po``
    (a checkout without ``make``), the ``.po`` is compiled in memory, so a German reader
    never gets English by accident.
    """
    if lang not in LANGUAGES or lang == "en":
        return gettext.NullTranslations()
    po = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as fh:
            return gettext.GNUTranslations(fh)
    log.warning("%s is not compiled; reading %s", mo, po)
    with po.open("rb") as fh:
        catalog = read_po(fh)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def _zone(timezone: str) -> tuple[ZoneInfo, str]:
    try:
        return ZoneInfo(timezone), timezone
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(FALLBACK_ZONE), FALLBACK_ZONE


class Wording:
    """Words, dates and numbers for one language and the installation's time zone."""

    def __init__(self, lang: str, timezone: str) -> None:
        self.lang = lang if lang in LANGUAGES else "de"
        self.timezone = _zone(timezone)[1]
        self.translations = translations(self.lang)

    # -- words -----------------------------------------------------------------------------
    def _(self, message: str, **values: Any) -> str:
        """``message`` translated, with ``%(name)s`` placeholders filled from ``values``."""
        text = self.translations.gettext(message)
        return text % values if values else text

    def n_(self, singular: str, plural: str, num: int, **values: Any) -> str:
        """The singular or plural of a message for ``num`` (as ``%(num)d``)."""
        return self.translations.ngettext(singular, plural, num) % {"num": num, **values}

    def quoted(self, text: str) -> str:
        """``text`` in the language's quotation marks: „…“ / “…”."""
        return f"„{text}“" if self.lang == "de" else f"“{text}”"

    # -- dates, times, money ---------------------------------------------------------------
    def city(self, timezone: str) -> str:
        """The city that names ``timezone`` ("Europe/Brussels" → "Brüssel" / "Brussels")."""
        return get_timezone_location(_zone(timezone)[1], locale=self.lang, return_city=True)

    def datetime(self, value: datetime, timezone: str | None = None) -> str:
        """``value`` in ``timezone`` (the installation's by default), the zone named."""
        zone, name = _zone(timezone or self.timezone)
        pattern, phrase = DATETIME[self.lang]
        shown = format_datetime(value.astimezone(zone), pattern, locale=self.lang)
        return phrase.format(time=shown, city=self.city(name))

    def date(self, value: datetime | date) -> str:
        """The local calendar day: "03.10.2026" / "3 Oct 2026"."""
        if isinstance(value, datetime):
            value = value.astimezone(_zone(self.timezone)[0]).date()
        return format_date(value, DATE[self.lang], locale=self.lang)

    def deadline(self, due: datetime, own_zone: str = "") -> str:
        """A deadline in local time; where the deadline's own zone reads differently at that
        moment (London, Lisbon), its own time follows: "…, 17:00 Uhr (Berlin) – 16:00 Uhr
        (London)"."""
        shown = self.datetime(due)
        zone, name = _zone(own_zone or self.timezone)
        local = _zone(self.timezone)[0]
        if due.astimezone(zone).utcoffset() != due.astimezone(local).utcoffset():
            pattern, phrase = TIME[self.lang]
            own = format_datetime(due.astimezone(zone), pattern, locale=self.lang)
            shown += " – " + phrase.format(time=own, city=self.city(name))
        return shown

    def days_between(self, start: datetime, end: datetime) -> int:
        """How many local calendar days ``end`` is after ``start`` (0: the same day)."""
        zone = _zone(self.timezone)[0]
        return (end.astimezone(zone).date() - start.astimezone(zone).date()).days

    def euros(self, amount: float) -> str:
        """ "1.250.000 €" / "€1,250,000"."""
        return format_currency(
            amount, "EUR", format=MONEY[self.lang], locale=self.lang, currency_digits=False
        )

    # -- calls -----------------------------------------------------------------------------
    def applicants(self, codes: list[str]) -> str:
        """Who may apply, in words; a plain hint where the call does not say."""
        if not codes:
            return self._("not stated – please check the conditions")
        labels = APPLICANT_LABELS[self.lang]
        return ", ".join(labels.get(code, code) for code in codes)

    def change_sentences(self, changes: list[CallChange]) -> list[str]:
        """A call's changes as sentences, one per field (the first old value to the last
        new one), in the order they happened; a field changed back and forth is left out."""
        first: dict[str, CallChange] = {}
        last: dict[str, CallChange] = {}
        for change in changes:
            first.setdefault(change.field, change)
            last[change.field] = change
        sentences: list[str] = []
        for field, change in first.items():
            old, new = change.old_value, last[field].new_value
            if old == new:
                continue
            if field == "deadlines" and "next_deadline" in first and _single(new):
                continue  # "Deadline moved" says it already
            sentences.append(self._change(field, old, new))
        return sentences

    def _change(self, field: str, old: str | None, new: str | None) -> str:
        if field == "next_deadline":
            return self._deadline_moved(_instant(old), _instant(new))
        if field == "status" and new in STATUS_NOW:
            return self._(STATUS_NOW[new])
        what = self._(FIELD_NAMES.get(field, field))
        if field in TEXT_FIELDS:
            return self._("%(what)s revised – please read it again on the call's page.", what=what)
        shown_old, shown_new = self.value(field, old), self.value(field, new)
        if not old:
            return self._("%(what)s now: %(new)s.", what=what, new=shown_new)
        if not new:
            return self._("%(what)s no longer stated (before: %(old)s).", what=what, old=shown_old)
        return self._(
            "%(what)s changed from %(old)s to %(new)s.", what=what, old=shown_old, new=shown_new
        )

    def _deadline_moved(self, old: datetime | None, new: datetime | None) -> str:
        if new is None:
            return self._("No deadline is stated any more.")
        if old is None:
            return self._("New deadline: %(new)s.", new=self.datetime(new))
        same_day = self.date(old) == self.date(new)
        shown = self.datetime if same_day else self.date
        return self._("Deadline moved from %(old)s to %(new)s.", old=shown(old), new=shown(new))

    def value(self, field: str, raw: str | None) -> str:
        """A stored change value as the reader knows it (money, dates, codes in words)."""
        if not raw:
            return "–"
        if field in MONEY_FIELDS:
            try:
                return self.euros(float(raw))
            except ValueError:
                return raw
        if field == "funding_rate":
            try:
                return format_decimal(float(raw), locale=self.lang) + "\u00a0%"
            except ValueError:
                return raw
        if field == "eligible_applicants":
            return self.applicants([part.strip() for part in raw.split(",") if part.strip()])
        if field == "deadline_model":
            return self._(DEADLINE_MODELS.get(raw, raw))
        if field == "opening_date":
            try:
                return self.date(date.fromisoformat(raw[:10]))
            except ValueError:
                return raw
        if field == "deadlines":
            return "; ".join(self._deadline_entry(part) for part in raw.split("; "))
        return self.quoted(raw)

    def _deadline_entry(self, part: str) -> str:
        when, _, stage = part.partition(" (stage ")
        moment = _instant(when)
        shown = self.datetime(moment) if moment else when
        if stage:
            shown += " " + self._("(stage %(n)s)", n=stage.rstrip(")"))
        return shown


def _instant(raw: str | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat(raw) if raw else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo else None


def _single(deadlines_text: str | None) -> bool:
    return not deadlines_text or "; " not in deadlines_text
