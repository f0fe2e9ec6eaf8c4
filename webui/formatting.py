"""How dates, times and sums of money look on the pages (German conventions for now)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# A time zone is named by its city, as people say it ("17:00 Uhr Brüssel").
ZONE_CITIES = {
    "Europe/Brussels": "Brüssel",
    "Europe/Berlin": "Berlin",
    "Europe/Luxembourg": "Luxemburg",
    "Europe/Paris": "Paris",
    "Europe/Vienna": "Wien",
    "Europe/Rome": "Rom",
    "Europe/Amsterdam": "Amsterdam",
    "Europe/London": "London",
}


def zone_city(timezone: str) -> str:
    """The city that names ``timezone`` ("Europe/Brussels" → "Brüssel")."""
    return ZONE_CITIES.get(timezone) or timezone.split("/")[-1].replace("_", " ")


def local_datetime(value: datetime | None, timezone: str) -> str:
    """``value`` (aware, UTC) in ``timezone``: "23.09.2026, 17:00 Uhr (Brüssel)"."""
    if value is None:
        return ""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone, timezone = ZoneInfo("Europe/Berlin"), "Europe/Berlin"
    local = value.astimezone(zone)
    return f"{local:%d.%m.%Y, %H:%M} Uhr ({zone_city(timezone)})"


def local_date(value: datetime | date | None, timezone: str = "Europe/Berlin") -> str:
    """The calendar day of ``value`` in ``timezone``: "23.09.2026"."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(ZoneInfo(timezone)).date()
    return f"{value:%d.%m.%Y}"


def euros(amount: int | float | None) -> str:
    """A sum of money as Germans write it: "1.250.000 €"."""
    if amount is None:
        return ""
    return f"{amount:,.0f} €".replace(",", ".")


def grant_range(low: int | None, high: int | None) -> str:
    """A grant range in words: "50.000 € – 200.000 €", "bis 60.000 €", "ab 5.000 €"."""
    if low and high and low != high:
        return f"{euros(low)} – {euros(high)}"
    if high:
        return euros(high) if low == high else f"bis {euros(high)}"
    if low:
        return f"ab {euros(low)}"
    return ""
