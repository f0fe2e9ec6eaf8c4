"""Deadlines and dates as the sources write them, turned into aware UTC datetimes.

Formats seen in the sources: ISO with offset (``2027-04-08T00:00:00.000+0000``), date-only
ISO, epoch milliseconds, ``22 February 2024``, ``19/09/2024 17:00 (Brussels Time)``,
``31.03.2027``, ``15. Oktober 2024``, ``30.09. jeden Jahres`` (recurring), ``5-Oct-23`` and
rolling phrases (``laufend``, ``jederzeit``, ``rolling``, ``bis auf Weiteres``).

Times of day when the source gives none:
- English and ISO dates (the EU portal style, which writes midnight UTC for "date only")
  mean 17:00 in ``default_tz`` (Europe/Brussels): the portal's usual closing hour, and the
  earlier reading is the safe one for someone planning an application.
- German dates mean the end of that day, 23:59 Europe/Berlin: "bis zum 31.03." is
  understood by German funders as "on that day still".
A day and month without a year ("30.09. jeden Jahres") is stored as a recurring month-day;
the year is never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crawler.normalize import NormalizationError

GERMAN_TZ = "Europe/Berlin"
BRUSSELS_TZ = "Europe/Brussels"
# Epoch milliseconds outside this window are not deadlines (a mistaken seconds value, a code).
_EPOCH_MS_MIN = int(datetime(1990, 1, 1, tzinfo=UTC).timestamp() * 1000)
_EPOCH_MS_MAX = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp() * 1000)


@dataclass(frozen=True)
class ParsedDeadline:
    """A deadline read from a source: a moment, a yearly date, or "rolling" (no deadline)."""

    due_at: datetime | None  # aware, UTC; None for recurring and rolling deadlines
    recurring_month_day: str | None  # "09-30": every year on that day
    rolling: bool  # applications any time, no deadline
    timezone: str  # the zone the deadline is meant in
    raw: str  # what the source wrote

    @property
    def local_date(self) -> date | None:
        """The calendar date in the deadline's own zone (what a person reads)."""
        if self.due_at is None:
            return None
        return self.due_at.astimezone(ZoneInfo(self.timezone)).date()


# --- vocabularies -------------------------------------------------------------------------
_EN_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
    "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_DE_MONTHS = {
    "januar": 1, "jänner": 1, "februar": 2, "märz": 3, "maerz": 3, "april": 4, "mai": 5,
    "juni": 6, "juli": 7, "august": 8, "september": 9, "oktober": 10, "november": 11,
    "dezember": 12, "jan": 1, "feb": 2, "mär": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8,
    "sep": 9, "sept": 9, "okt": 10, "nov": 11, "dez": 12,
}  # fmt: skip


def _alternation(names: dict[str, int]) -> str:
    # Longest first, so "september" wins over "sep".
    return "|".join(sorted((re.escape(n) for n in names), key=len, reverse=True))


_EN_MON = _alternation(_EN_MONTHS)
_DE_MON = _alternation(_DE_MONTHS)
_ZONE_WORDS = (
    r"\(?\s*(?:Brussels(?:\s+local)?\s+time|CET/CEST|CEST|CET|MEZ|MESZ|"
    r"Central\s+European(?:\s+Summer)?\s+Time)\s*\)?"
)
_EN_TIME = (
    r"(?:,?\s*(?:at\s+)?(?P<H>\d{1,2})[:.](?P<M>\d{2})\s*(?P<ampm>[ap]\.?m\.?)?(?:\s*h\b)?)?"
    rf"\s*(?P<zone>{_ZONE_WORDS})?"
)
_DE_TIME = r"(?:,?\s*(?:um\s+)?(?P<H>\d{1,2})(?:[:.](?P<M>\d{2}))?\s*Uhr\b|,?\s*(?:um\s+)?(?P<H2>\d{1,2}):(?P<M2>\d{2}))?"  # noqa: E501
_YEARLY = r"(?:jeden|jedes|eines|des\s+jeweiligen|eines\s+jeden)\s+(?:Kalender)?[Jj]ahres"

# Each pattern is tried in this order; the kind says how to read its groups.
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "iso",
        re.compile(
            r"(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})"
            r"(?:[T ](?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.\d{1,9})?)?"
            r"\s*(?P<off>Z|[+-]\d{2}:?\d{2})?)?(?![\d:])"
        ),
    ),
    (
        "slash",
        re.compile(
            r"(?<![\d/])(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})" + _EN_TIME, re.IGNORECASE
        ),
    ),
    (
        "de_recurring_name",
        re.compile(
            rf"(?<![\d.])(?P<d>\d{{1,2}})\.\s*(?P<mon>{_DE_MON})\b\.?(?!\s*\d)(?:\s+{_YEARLY})?",
            re.IGNORECASE,
        ),
    ),
    (
        "de_recurring",
        re.compile(
            rf"(?<![\d.])(?P<d>\d{{1,2}})\.\s?(?P<m>\d{{1,2}})\.(?!\s?\d)(?:\s*{_YEARLY})?",
            re.IGNORECASE,
        ),
    ),
    (
        "de_numeric",
        re.compile(
            r"(?<![\d.])(?P<d>\d{1,2})\.\s?(?P<m>\d{1,2})\.\s?(?P<y>\d{4}|\d{2})(?!\d)(?!\.\d)"
            + _DE_TIME,
            re.IGNORECASE,
        ),
    ),
    (
        "de_long",
        re.compile(
            rf"(?<![\d.])(?P<d>\d{{1,2}})\.\s*(?P<mon>{_DE_MON})\b\.?\s+(?P<y>\d{{4}})" + _DE_TIME,
            re.IGNORECASE,
        ),
    ),
    (
        "en_long",
        re.compile(
            rf"(?<![\d.])(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mon>{_EN_MON})\b\.?,?"
            rf"\s+(?P<y>\d{{4}})" + _EN_TIME,
            re.IGNORECASE,
        ),
    ),
    (
        "en_us",
        re.compile(
            rf"\b(?P<mon>{_EN_MON})\b\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,\s*(?P<y>\d{{4}})"
            + _EN_TIME,
            re.IGNORECASE,
        ),
    ),
    (
        "dmy_dash",
        re.compile(
            rf"(?<![\d-])(?P<d>\d{{1,2}})-(?P<mon>{_EN_MON})\b-(?P<y>\d{{4}}|\d{{2}})(?![\d-])",
            re.IGNORECASE,
        ),
    ),
]
_ROLLING = re.compile(
    r"\b(?:laufend|fortlaufend|jederzeit|ganzjährig|bis\s+auf\s+(?:W|w)eiteres|"
    r"rolling(?:\s+basis)?|ongoing|open[- ]ended|no\s+deadline|"
    r"keine\s+(?:Antrags|Einreichungs)?frist|ohne\s+(?:Antrags)?frist|(?:permanently|continuously)\s+open)\b",
    re.IGNORECASE,
)
# Words that turn a date in prose into a deadline; looked for just before the date.
_CUE = re.compile(
    r"\b(?:deadline|closing|closes|submi(?:t|ssion)|apply|applications?|until|by|before|due|"
    r"bis|frist|stichtag|spätestens|einreich\w*|einzureichen|antr\w*|\w*schluss|bewerb\w*)"
    r"[^.;!?]{0,60}$",
    re.IGNORECASE,
)
_JOINED = re.compile(r"\s*(?:,|und|sowie|oder|and|or)\s*", re.IGNORECASE)
_APPLYING = re.compile(
    r"\b(?:antr\w*|einreich\w*|bewerb\w*|förder\w*|apply|applications?|submi\w*|deadline|"
    r"frist\w*|proposals?)",
    re.IGNORECASE,
)
_PREFIX = re.compile(
    r"^(?:(?:submission\s+)?deadline|closing\s+date|due(?:\s+date)?|frist|antragsfrist|"
    r"einreichungsfrist|stichtag|antragsstichtag|einsendeschluss|bewerbungsschluss|"
    r"antragsschluss|bis\s+zum|bis\s+spätestens|spätestens|bis|jeweils|jährlich(?:\s+zum)?|"
    r"until|by|am|zum)\b\s*[:\-–]?\s*",
    re.IGNORECASE,
)


# --- public API ---------------------------------------------------------------------------
def parse_deadline(raw: str | int, *, default_tz: str = BRUSSELS_TZ) -> ParsedDeadline:
    """Read one deadline as a source wrote it.

    ``default_tz`` is the zone of an English or ISO date without a time (17:00 there).
    Raises :class:`NormalizationError` when ``raw`` is not a date, a yearly date or a
    rolling phrase.
    """
    zone = _zone(default_tz)
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise NormalizationError(f"not a deadline: {raw!r}")
    if isinstance(raw, int):
        return _from_epoch_ms(raw, str(raw), zone)
    text = _squash(raw)
    if not text:
        raise NormalizationError("empty deadline")
    if text.isdigit() and len(text) >= 11:
        return _from_epoch_ms(int(text), raw, zone)
    body = _strip_prefixes(text)
    for kind, pattern in _PATTERNS:
        match = pattern.fullmatch(body)
        if match:
            return _build(kind, match, raw, zone)
    if not any(ch.isdigit() for ch in text) and _ROLLING.search(text):
        return ParsedDeadline(None, None, True, zone, raw)
    raise NormalizationError(f"not a deadline: {raw!r}")


def parse_date(raw: str | int | None, *, default_tz: str = BRUSSELS_TZ) -> date | None:
    """The calendar date in ``raw`` (an opening date, a publication date), or ``None``
    when ``raw`` is empty, rolling or a yearly date without a year."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    parsed = parse_deadline(raw, default_tz=default_tz)
    return parsed.local_date


def find_deadlines(
    text: str, *, default_tz: str = BRUSSELS_TZ, require_cue: bool = True
) -> list[ParsedDeadline]:
    """Every deadline written in German or English prose, in reading order.

    A date counts only when a deadline word ("bis", "Frist", "Deadline", "spätestens",
    "apply by" ...) stands shortly before it in the same sentence, or when it is a yearly date
    ("30.09. jeden Jahres"), unless ``require_cue`` is false; "Richtlinie vom 04.11.2024" is
    not a deadline. Rolling phrases ("laufend", "jederzeit") yield a rolling deadline.
    """
    if not isinstance(text, str):
        raise NormalizationError(f"not text: {type(text).__name__}")
    zone = _zone(default_tz)
    flat = _squash(text)
    found: list[tuple[int, ParsedDeadline]] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(flat):
            start, end = match.span()
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            yearly = kind.startswith("de_recurring") and re.search(_YEARLY, match.group(0))
            cued = _CUE.search(flat[max(0, start - 80) : start]) or _follows_a_deadline(
                flat, start, taken
            )
            if require_cue and not yearly and not cued:
                continue
            try:
                parsed = _build(kind, match, match.group(0).strip(), zone)
            except NormalizationError:
                continue  # "31.02.2024" in prose: not a date, keep reading
            taken.append((start, end))
            found.append((start, parsed))
    for match in _ROLLING.finditer(flat):
        start, end = match.span()
        if any(start < t_end and t_start < end for t_start, t_end in taken):
            continue
        # "laufend" alone is common prose ("ongoing projects"): it must be about applying.
        if require_cue and not _APPLYING.search(_sentence_around(flat, start, end)):
            continue
        found.append((start, ParsedDeadline(None, None, True, zone, match.group(0))))
    seen: set[tuple[datetime | None, str | None, bool]] = set()
    result = []
    for _, parsed in sorted(found, key=lambda pair: pair[0]):
        key = (parsed.due_at, parsed.recurring_month_day, parsed.rolling)
        if key not in seen:
            seen.add(key)
            result.append(parsed)
    return result


def _follows_a_deadline(flat: str, start: int, taken: list[tuple[int, int]]) -> bool:
    """Whether the date at ``start`` continues a list of deadlines ("bis zum 20.04.2026 und
    15.09.2026"): the cue before the first date holds for the ones joined to it."""
    return any(_JOINED.fullmatch(flat[end:start]) for _, end in taken if end <= start)


def iter_supported_formats() -> Iterator[str]:
    """The names of the date formats :func:`parse_deadline` reads (for docs and tests)."""
    yield from (kind for kind, _ in _PATTERNS)
    yield "epoch_ms"
    yield "rolling"


# --- internals ----------------------------------------------------------------------------
def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise NormalizationError(f"unknown time zone: {name!r}") from exc
    return name


def _squash(text: str) -> str:
    # No-break and thin spaces are common in the portal's conditions HTML.
    text = re.sub(r"[\u00a0\u2007\u202f\u2009]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _sentence_around(text: str, start: int, end: int) -> str:
    left = max(text.rfind(". ", 0, start), text.rfind("! ", 0, start), text.rfind("? ", 0, start))
    ends = [i for i in (text.find(". ", end), text.find("! ", end)) if i >= 0]
    right = min(ends, default=len(text))
    return text[max(0, left) : right]


def _strip_prefixes(text: str) -> str:
    body = text.strip(" .;,")
    while True:
        stripped = _PREFIX.sub("", body, count=1)
        if stripped == body:
            return body.strip(" .;,")
        body = stripped


def _from_epoch_ms(value: int, raw: str, zone: str) -> ParsedDeadline:
    if not _EPOCH_MS_MIN <= value <= _EPOCH_MS_MAX:
        raise NormalizationError(f"epoch milliseconds out of range: {value}")
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=value)
    if moment.time() == datetime.min.time():
        # Midnight UTC is how the portal writes "this day" (no time given).
        return _at_local(moment.year, moment.month, moment.day, 17, 0, zone, raw)
    return ParsedDeadline(moment, None, False, zone, raw)


def _month(match: re.Match[str], table: dict[str, int]) -> int:
    if "mon" in match.groupdict() and match.group("mon"):
        name = match.group("mon").lower().rstrip(".")
        if name in table:
            return table[name]
        merged = {**_EN_MONTHS, **_DE_MONTHS}
        if name in merged:
            return merged[name]
        raise NormalizationError(f"unknown month: {name!r}")
    return int(match.group("m"))


def _year(text: str) -> int:
    year = int(text)
    # Two-digit years ("5-Oct-23", "31.03.27") are this century: deadlines lie ahead.
    return 2000 + year if len(text) == 2 else year


def _build(kind: str, match: re.Match[str], raw: str, zone: str) -> ParsedDeadline:
    groups = match.groupdict()
    if kind in ("de_recurring", "de_recurring_name"):
        month = _month(match, _DE_MONTHS)
        day = int(groups["d"])
        _check_date(2024, month, day)  # a leap year, so 29.02. is a valid yearly date
        return ParsedDeadline(None, f"{month:02d}-{day:02d}", False, GERMAN_TZ, raw)
    year = _year(groups["y"])
    month = _month(match, _DE_MONTHS if kind.startswith("de") else _EN_MONTHS)
    day = int(groups["d"])
    _check_date(year, month, day)
    if kind == "iso":
        return _build_iso(match, year, month, day, raw, zone)
    if kind.startswith("de"):
        hour_text = groups.get("H") or groups.get("H2")
        minute_text = groups.get("M") or groups.get("M2")
        if hour_text is None:
            return _at_local(year, month, day, 23, 59, GERMAN_TZ, raw)
        return _at_local(year, month, day, int(hour_text), int(minute_text or 0), GERMAN_TZ, raw)
    local_zone = BRUSSELS_TZ if groups.get("zone") else zone
    if groups.get("H") is None:
        return _at_local(year, month, day, 17, 0, local_zone, raw)
    hour = int(groups["H"])
    ampm = (groups.get("ampm") or "").replace(".", "").lower()
    if ampm:
        if not 1 <= hour <= 12:
            raise NormalizationError(f"not a time: {raw!r}")
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    return _at_local(year, month, day, hour, int(groups["M"]), local_zone, raw)


def _build_iso(
    match: re.Match[str], year: int, month: int, day: int, raw: str, zone: str
) -> ParsedDeadline:
    groups = match.groupdict()
    if groups["H"] is None:
        return _at_local(year, month, day, 17, 0, zone, raw)
    hour, minute, second = int(groups["H"]), int(groups["M"]), int(groups["S"] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise NormalizationError(f"not a time: {raw!r}")
    offset = groups["off"]
    if offset is None:
        return _at_local(year, month, day, hour, minute, zone, raw)
    if offset == "Z":
        delta = timedelta(0)
    else:
        digits = offset[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 14 or minutes > 59:
            raise NormalizationError(f"not a UTC offset: {offset!r}")
        delta = timedelta(hours=hours, minutes=minutes) * (-1 if offset[0] == "-" else 1)
    if delta == timedelta(0) and (hour, minute, second) == (0, 0, 0):
        # The portal's "date only": midnight UTC stands for the usual 17:00 Brussels.
        return _at_local(year, month, day, 17, 0, zone, raw)
    moment = datetime(year, month, day, hour, minute, second, tzinfo=timezone(delta))
    return ParsedDeadline(moment.astimezone(UTC), None, False, zone, raw)


def _check_date(year: int, month: int, day: int) -> None:
    try:
        date(year, month, day)
    except ValueError as exc:
        raise NormalizationError(f"not a date: {day:02d}.{month:02d}.{year}") from exc
    if not 1900 <= year <= 2200:
        raise NormalizationError(f"implausible year: {year}")


def _at_local(
    year: int, month: int, day: int, hour: int, minute: int, zone: str, raw: str
) -> ParsedDeadline:
    if hour > 23 or minute > 59:
        raise NormalizationError(f"not a time: {raw!r}")
    local = datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))
    return ParsedDeadline(local.astimezone(UTC), None, False, zone, raw)
