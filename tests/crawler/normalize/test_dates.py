"""Deadlines and dates in every format the sources write."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.normalize import NormalizationError
from crawler.normalize.dates import find_deadlines, parse_date, parse_deadline

BRUSSELS = ZoneInfo("Europe/Brussels")
BERLIN = ZoneInfo("Europe/Berlin")


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "due_at", "zone"),
    [
        # Portal midnight UTC means "that day", closing 17:00 Brussels (CEST: 15:00 UTC).
        ("2027-04-08T00:00:00.000+0000", _utc(2027, 4, 8, 15, 0), "Europe/Brussels"),
        ("2024-04-18T19:00:00.000+0200", _utc(2024, 4, 18, 17, 0), "Europe/Brussels"),
        ("2024-03-12T17:00:00.000+0000", _utc(2024, 3, 12, 17, 0), "Europe/Brussels"),
        ("2027-04-08", _utc(2027, 4, 8, 15, 0), "Europe/Brussels"),
        ("2027-01-08", _utc(2027, 1, 8, 16, 0), "Europe/Brussels"),  # CET in winter
        (1726758000000, _utc(2024, 9, 19, 15, 0), "Europe/Brussels"),
        ("1726758000000", _utc(2024, 9, 19, 15, 0), "Europe/Brussels"),
        ("22 February 2024", _utc(2024, 2, 22, 16, 0), "Europe/Brussels"),
        ("19/09/2024 17:00 (Brussels Time)", _utc(2024, 9, 19, 15, 0), "Europe/Brussels"),
        ("31/03/2023 15:00 CEST", _utc(2023, 3, 31, 13, 0), "Europe/Brussels"),
        ("February 22, 2024", _utc(2024, 2, 22, 16, 0), "Europe/Brussels"),
        ("5-Oct-23", _utc(2023, 10, 5, 15, 0), "Europe/Brussels"),
        ("Deadline: 5-Oct-23", _utc(2023, 10, 5, 15, 0), "Europe/Brussels"),
        ("21-Sep-20", _utc(2020, 9, 21, 15, 0), "Europe/Brussels"),
        # German dates without a time: the end of that day in Berlin.
        ("31.03.2027", _utc(2027, 3, 31, 21, 59), "Europe/Berlin"),
        ("bis zum 06.12.2024", _utc(2024, 12, 6, 22, 59), "Europe/Berlin"),
        ("15. Oktober 2024", _utc(2024, 10, 15, 21, 59), "Europe/Berlin"),
        ("31.03.2025, 12:00 Uhr", _utc(2025, 3, 31, 10, 0), "Europe/Berlin"),
        ("1. März 2025", _utc(2025, 3, 1, 22, 59), "Europe/Berlin"),
    ],
)
def test_parse_deadline_reads_each_format(raw: str | int, due_at: datetime, zone: str) -> None:
    parsed = parse_deadline(raw)
    assert parsed.due_at == due_at
    assert parsed.due_at.tzinfo is UTC
    assert parsed.timezone == zone
    assert parsed.raw == str(raw)
    assert not parsed.rolling
    assert parsed.recurring_month_day is None


@pytest.mark.parametrize(
    ("raw", "month_day"),
    [
        ("30.09. jeden Jahres", "09-30"),
        ("bis zum 30.09. jeden Jahres", "09-30"),
        ("15. Oktober jeden Jahres", "10-15"),
        ("31. März", "03-31"),
        ("29.02. eines Jahres", "02-29"),
    ],
)
def test_yearly_dates_are_recurring_and_never_get_a_year(raw: str, month_day: str) -> None:
    parsed = parse_deadline(raw)
    assert parsed.due_at is None
    assert parsed.recurring_month_day == month_day
    assert parsed.timezone == "Europe/Berlin"


@pytest.mark.parametrize(
    "raw", ["laufend", "jederzeit", "rolling", "Rolling basis", "bis auf Weiteres", "ongoing"]
)
def test_rolling_phrases_mean_no_deadline(raw: str) -> None:
    parsed = parse_deadline(raw)
    assert parsed.rolling
    assert parsed.due_at is None
    assert parsed.recurring_month_day is None


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "garbage",
        "31.02.2024",
        "99/99/2024",
        "2024-13-01",
        "Antragstellung nicht möglich",
        "32. Oktober 2024",
        "2024-04-18T25:00:00.000+0000",
        123,
        True,
        3.5,
        None,
    ],
)
def test_parse_deadline_rejects_garbage_with_normalization_error(raw: object) -> None:
    with pytest.raises(NormalizationError):
        parse_deadline(raw)  # type: ignore[arg-type]


def test_default_time_zone_applies_to_english_dates_without_time() -> None:
    parsed = parse_deadline("5-Oct-23", default_tz="Europe/London")
    assert parsed.due_at == _utc(2023, 10, 5, 16, 0)
    assert parsed.timezone == "Europe/London"


def test_unknown_default_time_zone_is_a_normalization_error() -> None:
    with pytest.raises(NormalizationError, match="time zone"):
        parse_deadline("2027-04-08", default_tz="Mars/Olympus")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-02-22T00:00:00.000+0000", date(2024, 2, 22)),
        ("22 February 2024", date(2024, 2, 22)),
        ("31.03.2027", date(2027, 3, 31)),
        (1708560000000, date(2024, 2, 22)),
        ("", None),
        (None, None),
        ("laufend", None),
        ("30.09. jeden Jahres", None),
    ],
)
def test_parse_date_gives_the_local_calendar_date(raw: object, expected: date | None) -> None:
    assert parse_date(raw) == expected  # type: ignore[arg-type]


def test_find_deadlines_in_foerderdatenbank_prose() -> None:
    # Real text of the EXIST-Women programme page (Förderdatenbank).
    text = (
        "Förderrichtlinie vom 04.11.2024. Als Hochschule oder Forschungseinrichtung können Sie "
        "einen Förderantrag bis 2027 und dabei spätestens bis zum 30.09. jeden Jahres stellen. "
        "Im Jahr 2024 ist die Antragstellung bis zum 06.12.2024 möglich."
    )
    found = find_deadlines(text)
    assert [(d.recurring_month_day, d.due_at) for d in found] == [
        ("09-30", None),
        (None, _utc(2024, 12, 6, 22, 59)),
    ]  # the directive's date "vom 04.11.2024" is not a deadline


def test_find_deadlines_reads_yearly_month_names() -> None:
    text = (
        "Anträge auf Förderung sind jeweils bis zum 31. März (für einen Projektbeginn im "
        "laufenden Kalenderjahr) oder bis zum 30. September (für einen Projektbeginn im "
        "folgenden Kalenderjahr) eines Jahres einzureichen."
    )
    assert [d.recurring_month_day for d in find_deadlines(text)] == ["03-31", "09-30"]
    assert not any(d.rolling for d in find_deadlines(text))  # "laufenden" is not "laufend"


def test_find_deadlines_in_feed_text() -> None:
    text = "Deadline: 5-Oct-23\n\nThe European Urban Initiative has launched its 2nd call."
    (found,) = find_deadlines(text)
    assert found.due_at == _utc(2023, 10, 5, 15, 0)
    assert found.raw == "5-Oct-23"


def test_find_deadlines_reports_rolling_only_when_about_applying() -> None:
    assert [d.rolling for d in find_deadlines("Anträge können jederzeit gestellt werden.")] == [
        True
    ]
    assert find_deadlines("The project is ongoing in three cities.") == []


def test_find_deadlines_without_cue_takes_every_date() -> None:
    found = find_deadlines("Richtlinie vom 04.11.2024", require_cue=False)
    assert [d.local_date for d in found] == [date(2024, 11, 4)]


# --- properties ---------------------------------------------------------------------------
_EN_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December"]  # fmt: skip
_DE_MONTHS = ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
              "September", "Oktober", "November", "Dezember"]  # fmt: skip
_FORMATS = {
    "iso": (lambda d: d.isoformat(), BRUSSELS),
    "iso_midnight_utc": (lambda d: f"{d.isoformat()}T00:00:00.000+0000", BRUSSELS),
    "epoch_ms": (
        lambda d: int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000),
        BRUSSELS,
    ),
    "en_long": (lambda d: f"{d.day} {_EN_MONTHS[d.month - 1]} {d.year}", BRUSSELS),
    "en_slash": (lambda d: f"{d.day:02d}/{d.month:02d}/{d.year} 17:00 (Brussels Time)", BRUSSELS),
    "dmy_dash": (lambda d: f"{d.day}-{_EN_MONTHS[d.month - 1][:3]}-{d.year % 100:02d}", BRUSSELS),
    "de_numeric": (lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}", BERLIN),
    "de_long": (lambda d: f"{d.day}. {_DE_MONTHS[d.month - 1]} {d.year}", BERLIN),
}


@given(
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    style=st.sampled_from(sorted(_FORMATS)),
)
def test_every_format_round_trips_to_the_same_local_date(day: date, style: str) -> None:
    render, zone = _FORMATS[style]
    parsed = parse_deadline(render(day))
    assert parsed.due_at is not None
    assert parsed.due_at.astimezone(zone).date() == day
    assert parsed.local_date == day


@given(day=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_yearly_dates_round_trip(day: date) -> None:
    parsed = parse_deadline(f"{day.day:02d}.{day.month:02d}. jeden Jahres")
    assert parsed.recurring_month_day == f"{day.month:02d}-{day.day:02d}"


@given(
    moment=st.datetimes(
        min_value=datetime(1991, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC)
    )
)
def test_iso_with_offset_keeps_the_instant(moment: datetime) -> None:
    moment = moment.replace(microsecond=0)
    if moment.time() == datetime.min.time():
        moment += timedelta(seconds=1)  # midnight UTC is the portal's "date only"
    raw = moment.astimezone(BRUSSELS).strftime("%Y-%m-%dT%H:%M:%S.000%z")
    assert parse_deadline(raw).due_at == moment


@given(st.text(max_size=80))
def test_random_text_raises_nothing_but_normalization_error(text: str) -> None:
    with contextlib.suppress(NormalizationError):
        parse_deadline(text)
    for found in find_deadlines(text):
        assert found.due_at is None or found.due_at.tzinfo is UTC
    with contextlib.suppress(NormalizationError):
        parse_date(text)


def test_dates_joined_to_a_cued_deadline_are_deadlines_too() -> None:
    # Real text of the Minitraité programme (Förderdatenbank export).
    text = "Für das Jahr 2026 können Anträge bis zum 20.04.2026 und 15.09.2026 gestellt werden."
    assert [d.raw for d in find_deadlines(text)] == ["20.04.2026", "15.09.2026"]
    # A list after a date that is no deadline stays no deadline.
    assert find_deadlines("Richtlinie vom 20.03.2025 und 01.01.2020.") == []
