"""How dates, times and sums of money look on the pages, in the reader's language.

A time is always shown in a named zone, the way people say it: "23.09.2026, 17:00 Uhr
(Brüssel)" in German, "23 Sep 2026, 17:00 Brussels time" in English — never "UTC".
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_datetime, get_timezone_location
from babel.numbers import format_currency
from flask import has_request_context

from webui.i18n import DEFAULT_LANGUAGE, current_language

FALLBACK_ZONE = "Europe/Berlin"
DATETIME = {
    "de": ("dd.MM.yyyy, HH:mm", "{time} Uhr ({city})"),
    "en": ("d MMM yyyy, HH:mm", "{time} {city} time"),
}
DATE = {"de": "dd.MM.yyyy", "en": "d MMM yyyy"}
MONEY = {"de": "#,##0\u00a0¤", "en": "¤#,##0"}
BETWEEN = {"de": "{low} – {high}", "en": "{low} – {high}"}
UP_TO = {"de": "bis {high}", "en": "up to {high}"}
FROM = {"de": "ab {low}", "en": "from {low}"}


def language(lang: str | None = None) -> str:
    """``lang`` if given, else the request's language, else German (emails, the CLI)."""
    found = lang or (current_language() if has_request_context() else DEFAULT_LANGUAGE)
    return found if found in DATE else DEFAULT_LANGUAGE


def _zone(timezone: str) -> tuple[ZoneInfo, str]:
    try:
        return ZoneInfo(timezone), timezone
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(FALLBACK_ZONE), FALLBACK_ZONE


def zone_city(timezone: str, lang: str | None = None) -> str:
    """The city that names ``timezone`` ("Europe/Brussels" → "Brüssel" / "Brussels")."""
    return get_timezone_location(_zone(timezone)[1], locale=language(lang), return_city=True)


def local_datetime(value: datetime | None, timezone: str, lang: str | None = None) -> str:
    """``value`` (aware) in ``timezone``, with the zone named by its city."""
    if value is None:
        return ""
    lang = language(lang)
    zone, name = _zone(timezone)
    pattern, phrase = DATETIME[lang]
    shown = format_datetime(value.astimezone(zone), pattern, locale=lang)
    return phrase.format(time=shown, city=zone_city(name, lang))


def local_date(
    value: datetime | date | None, timezone: str = FALLBACK_ZONE, lang: str | None = None
) -> str:
    """The calendar day of ``value`` in ``timezone``: "23.09.2026" / "23 Sep 2026"."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(_zone(timezone)[0]).date()
    lang = language(lang)
    return format_date(value, DATE[lang], locale=lang)


def euros(amount: int | float | None, lang: str | None = None) -> str:
    """A sum of money as the reader writes it: "1.250.000 €" / "€1,250,000"."""
    if amount is None:
        return ""
    lang = language(lang)
    return format_currency(amount, "EUR", format=MONEY[lang], locale=lang, currency_digits=False)


def grant_range(low: int | None, high: int | None, lang: str | None = None) -> str:
    """A grant range in words: "50.000 € – 200.000 €", "bis 60.000 €", "ab 5.000 €"."""
    lang = language(lang)
    if low and high and low != high:
        return BETWEEN[lang].format(low=euros(low, lang), high=euros(high, lang))
    if high:
        return euros(high, lang) if low == high else UP_TO[lang].format(high=euros(high, lang))
    if low:
        return FROM[lang].format(low=euros(low, lang))
    return ""


def month_day(value: str, lang: str | None = None) -> str:
    """A yearly date stored as "MM-DD", as the reader says it: "15. März" / "15 March"."""
    try:
        day = date(2000, int(value[:2]), int(value[3:5]))
    except (ValueError, IndexError):
        return value
    lang = language(lang)
    return format_date(day, "d. MMMM" if lang == "de" else "d MMMM", locale=lang)


def weekday_date(day: date, lang: str | None = None) -> str:
    """A day with its weekday, as the rest of the pages write dates: "Montag, 7. Dezember
    2026" / "Monday, 7 December 2026" (not the US "Monday, December 7, 2026")."""
    lang = language(lang)
    return format_date(day, "EEEE, d. MMMM yyyy" if lang == "de" else "EEEE, d MMMM yyyy",
                       locale=lang)  # fmt: skip
