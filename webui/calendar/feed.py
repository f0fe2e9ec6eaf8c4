"""A person's deadline feed: one iCalendar event per deadline stage of each pursued call.

A pure builder (no request): the route passes the entries, the site's address and the time.
Each event's UID stays the same for a profile, a call and a stage, so a calendar that
subscribes updates an event when the date moves instead of adding a second one. The length
of an event and its reminder a week ahead are those of the public .ics downloads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from flask_babel import gettext as _
from icalendar import Calendar, Event

from storage.calendar import PursuedDeadline
from storage.serialize import call_page_url
from webui import formatting, labels
from webui.search.exports import EVENT_LENGTH, week_ahead_alarm

PRODID = "-//foerderdesk//Desk deadlines//EN"
REFRESH = timedelta(hours=6)


def stage_name(entry: PursuedDeadline) -> str:
    """The stage as a reader says it: "Deadline", "Stage 1 of 2", "Cut-off 3 of 4"."""
    n, count = entry.stage_number, entry.stage_count
    if count == 1:
        return _("Deadline")
    if entry.call.deadline_model == "two_stage":
        return _("Stage %(n)s of %(count)s", n=n, count=count)
    if entry.call.deadline_model == "multiple_cutoff":
        return _("Cut-off %(n)s of %(count)s", n=n, count=count)
    return _("Deadline %(n)s of %(count)s", n=n, count=count)


def event_summary(entry: PursuedDeadline) -> str:
    """ "Frist: <call> (<profile>)"."""
    return _(
        "Deadline: %(title)s (%(profile)s)", title=entry.call.title, profile=entry.profile.name
    )


def _event(
    entry: PursuedDeadline,
    *,
    base_url: str,
    host: str,
    now: datetime,
    desk_url: Callable[[PursuedDeadline], str | None],
) -> Event:
    page = call_page_url(base_url, entry.call.id)
    status = labels.REVIEW_STATUS.get(entry.status, entry.status)
    lines = [
        f"{stage_name(entry)}: {formatting.local_datetime(entry.due_at, entry.timezone)}",
        entry.label,
        _("Review: %(status)s", status=status),
        _("Profile: %(name)s", name=entry.profile.name),
        entry.call.funder,
        _("Page of the call") + ": " + page,
    ]
    desk = desk_url(entry)
    if desk:
        lines.append(_("At the desk") + ": " + desk)
    event = Event()
    event.add("uid", f"deadline-{entry.key}@{host}")
    event.add("dtstamp", now.astimezone(UTC))
    event.add("last-modified", entry.call.last_changed_at.astimezone(UTC))
    event.add("summary", event_summary(entry))
    event.add("dtstart", entry.due_at.astimezone(UTC))
    event.add("duration", EVENT_LENGTH)
    event.add("url", page)
    event.add("description", "\n".join(line for line in lines if line))
    event.add("categories", [str(status)])
    event.add("transp", "TRANSPARENT")  # a deadline does not make anyone busy
    event.add_component(week_ahead_alarm(event["summary"]))
    return event


def deadlines_ics(
    entries: Iterable[PursuedDeadline],
    *,
    base_url: str,
    host: str,
    name: str,
    now: datetime,
    desk_url: Callable[[PursuedDeadline], str | None] = lambda entry: None,
) -> bytes:
    """The entries as a calendar a client subscribes to, in UTC."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    # How often a subscribing client should look again (RFC 7986), in a form Outlook reads too.
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT6H")
    for entry in entries:
        calendar.add_component(
            _event(entry, base_url=base_url, host=host, now=now, desk_url=desk_url)
        )
    return calendar.to_ical()
