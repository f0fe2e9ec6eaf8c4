"""Calls to take away: a table for a proposal calendar, an Atom feed, iCalendar events.

Pure builders over stored calls (deadlines loaded): they read no request, so the routes stay
thin and the shapes can be tested on their own. Words go through Babel and dates through
``webui.formatting``, so they follow the locale of the request (or the app) they run in.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from icalendar import Alarm, Calendar, Event

from storage.deadlines import DEFAULT_TIMEZONE, call_status, next_deadline, next_recurring_due
from storage.models import FundingCall, utcnow
from storage.serialize import call_page_url
from webui import formatting, labels

# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
DELIMITER = {"de": ";", "en": ","}  # German Excel splits on ";", because "," is the decimal mark
EVENT_LENGTH = timedelta(minutes=30)
REMINDER_BEFORE = timedelta(days=7)
PRODID = "-//foerderdesk//Funding calls//EN"
# XML 1.0 refuses these characters; a scraped title must not break the whole feed.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})

CSV_COLUMNS = (
    _l("Title"),
    _l("Funder"),
    _l("Programme"),
    _l("Identifier"),
    _l("Status"),
    _l("Next deadline"),
    _l("All deadlines"),
    _l("Who may apply"),
    _l("Grant per project"),
    _l("Total budget"),
    _l("Page of the call"),
    _l("Source"),
)


@dataclass(frozen=True)
class Stage:
    """One dated deadline of a call, named as a reader says it ("Stage 1 of 2")."""

    number: int
    name: str
    due: datetime
    label: str = ""
    yearly: bool = False


def _stage_name(call: FundingCall, number: int, count: int) -> str:
    if count == 1:
        return _("Deadline")
    if call.deadline_model == "two_stage":
        return _("Stage %(n)s of %(count)s", n=number, count=count)
    if call.deadline_model == "multiple_cutoff":
        return _("Cut-off %(n)s of %(count)s", n=number, count=count)
    return _("Deadline %(n)s of %(count)s", n=number, count=count)


def deadline_stages(call: FundingCall, now: datetime | None = None) -> list[Stage]:
    """Every deadline of ``call`` that has a date, in date order (a yearly date at its next
    occurrence); past ones too, so a closed call still shows when it closed."""
    now = now or utcnow()
    dated: list[tuple[datetime, str, bool]] = []
    for d in call.deadlines:
        if d.due_at is not None:
            dated.append((d.due_at, d.label, False))
        elif d.recurring_month_day:
            due = next_recurring_due(d.recurring_month_day, d.timezone or DEFAULT_TIMEZONE, now)
            if due is not None:
                dated.append((due, d.label, True))
    dated.sort(key=lambda item: item[0])
    return [
        Stage(n, _stage_name(call, n, len(dated)), due, label, yearly)
        for n, (due, label, yearly) in enumerate(dated, start=1)
    ]


def _applicants(call: FundingCall) -> str:
    kinds = call.eligible_applicants or ["unstated"]
    return ", ".join(str(labels.APPLICANT.get(kind, kind)) for kind in kinds)


def _stage_text(stage: Stage, timezone: str) -> str:
    when = formatting.local_datetime(stage.due, timezone)
    if stage.yearly:
        when = _("%(date)s, every year", date=when)
    return f"{stage.name}: {when}"


def safe_cell(value: object) -> str:
    """``value`` as a cell a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_row(call: FundingCall, *, base_url: str, timezone: str, now: datetime) -> list[str]:
    """The columns of :data:`CSV_COLUMNS` for one call, in the reader's language."""
    stages = deadline_stages(call, now)
    return [
        call.title,
        call.funder,
        call.programme,
        call.call_identifier,
        str(labels.STATUS[call_status(call, now)]),
        formatting.local_datetime(next_deadline(call, now), timezone),
        "; ".join(_stage_text(stage, timezone) for stage in stages),
        _applicants(call),
        formatting.grant_range(call.grant_min_eur, call.grant_max_eur),
        formatting.euros(call.budget_eur),
        call_page_url(base_url, call.id),
        call.url,
    ]


def calls_csv(
    calls: Iterable[FundingCall],
    *,
    base_url: str,
    timezone: str,
    language: str,
    now: datetime | None = None,
) -> bytes:
    """The calls as a table, UTF-8 with a byte order mark so that Excel reads umlauts, with
    the delimiter a spreadsheet in ``language`` expects."""
    now = now or utcnow()
    out = io.StringIO()
    writer = csv.writer(out, delimiter=DELIMITER.get(language, ","))
    writer.writerow([str(heading) for heading in CSV_COLUMNS])
    for call in calls:
        row = csv_row(call, base_url=base_url, timezone=timezone, now=now)
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue().encode("utf-8-sig")


def _xml(text: str | None) -> str:
    return _NOT_XML.sub("", text or "")


def _entry_summary(call: FundingCall, timezone: str, now: datetime) -> str:
    status = str(labels.STATUS[call_status(call, now)])
    due = next_deadline(call, now)
    head = [call.funder, status]
    if due is not None:
        head.append(_("Next deadline") + ": " + formatting.local_datetime(due, timezone))
    lines = [" · ".join(part for part in head if part), call.summary, _("Source") + ": " + call.url]
    return "\n\n".join(line for line in lines if line)


def calls_atom(
    calls: Sequence[FundingCall],
    *,
    base_url: str,
    feed_url: str,
    page_url: str,
    title: str,
    timezone: str,
    language: str,
    now: datetime | None = None,
) -> bytes:
    """The calls as an Atom feed: one entry per call, its id and link the call's page, so
    that a feed reader shows a call once and again when it changes."""
    now = now or utcnow()
    feed = FeedGenerator()
    feed.id(feed_url)
    feed.title(_xml(title))
    feed.author({"name": "foerderdesk"})
    feed.link(href=feed_url, rel="self", type="application/atom+xml")
    feed.link(href=page_url, rel="alternate", type="text/html")
    feed.language(language)
    feed.updated(max((c.last_changed_at for c in calls), default=now))
    for call in calls:
        entry = feed.add_entry(order="append")
        url = call_page_url(base_url, call.id)
        entry.id(url)
        entry.title(_xml(call.title))
        # One link only: feedgen 1.0 drops an entry link's rel, so a second would read as
        # another "alternate"; the source's address goes into the summary instead.
        entry.link(href=url, rel="alternate", type="text/html")
        entry.summary(_xml(_entry_summary(call, timezone, now)))
        entry.updated(call.last_changed_at)
        entry.published(call.first_seen_at)
        if call.funder:
            entry.author({"name": _xml(call.funder)})
    return feed.atom_str(pretty=True)


def _event(call: FundingCall, stage: Stage, *, base_url: str, host: str, now: datetime) -> Event:
    page = call_page_url(base_url, call.id)
    lines = [
        call.funder,
        stage.label,
        str(labels.DEADLINE_MODEL.get(call.deadline_model, "")),
        _("Page of the call") + ": " + page,
        _("Source") + ": " + call.url,
    ]
    event = Event()
    event.add("uid", f"call-{call.id}-{stage.number}@{host}")
    event.add("dtstamp", now.astimezone(UTC))
    event.add("last-modified", call.last_changed_at.astimezone(UTC))
    event.add("summary", f"{stage.name}: {call.title}")
    event.add("dtstart", stage.due.astimezone(UTC))
    event.add("duration", EVENT_LENGTH)
    event.add("url", page)
    event.add("description", "\n".join(line for line in lines if line))
    event.add("transp", "TRANSPARENT")  # a deadline does not make anyone busy
    if stage.yearly:
        event.add("rrule", {"freq": "yearly"})
    event.add_component(week_ahead_alarm(event["summary"]))
    return event


def week_ahead_alarm(summary: str) -> Alarm:
    """The reminder a calendar client shows a week before a deadline event."""
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", _("In one week: %(stage)s", stage=summary))
    alarm.add("trigger", -REMINDER_BEFORE)
    return alarm


def calls_ics(
    calls: Iterable[FundingCall],
    *,
    base_url: str,
    name: str,
    now: datetime | None = None,
) -> bytes:
    """The calls' deadlines as a calendar: one event per stage, in UTC, with a reminder a
    week ahead. UIDs stay the same between downloads, so a re-import updates, not doubles."""
    now = now or utcnow()
    host = urlsplit(base_url).hostname or "foerderdesk"
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    for call in calls:
        for stage in deadline_stages(call, now):
            calendar.add_component(_event(call, stage, base_url=base_url, host=host, now=now))
    return calendar.to_ical()


def export_filename(stem: str, extension: str, day: datetime | None = None) -> str:
    """A readable ASCII file name, dated when ``day`` is given:
    "foerderdesk-klimaschutz-2026-05-01.csv"."""
    folded = stem.lower().translate(_UMLAUTS)
    ascii_only = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode()
    slug = _NOT_SLUG.sub("-", ascii_only).strip("-")[:60].strip("-")
    parts = ["foerderdesk", slug, day.date().isoformat() if day else ""]
    return "-".join(part for part in parts if part) + "." + extension
