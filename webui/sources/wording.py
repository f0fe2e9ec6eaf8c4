"""How the sources page says a crawl's outcome and how long it took, in the reader's language."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

OUTCOME = {
    "running": _l("running"),
    "succeeded": _l("succeeded"),
    "partial": _l("partial"),
    "failed": _l("failed"),
}
# Why the crawler's pipeline dropped a record (``crawler.pipelines.Dropped`` reasons).
DROPPED = {
    "duplicate": _l("listed twice"),
    "missing_title": _l("no title"),
    "missing_source": _l("no source"),
    "missing_source_id": _l("no identifier"),
    "bad_url": _l("unusable address"),
    "bad_deadline": _l("unreadable deadline"),
    "bad_funder_type": _l("unknown funder type"),
    "bad_details_state": _l("details in an unknown state"),
    "store_error": _l("could not be stored"),
}


# The scheduler's jobs by id (``scheduler.jobs``); a crawl job is "crawl:<slug>".
JOBS = {
    "queue": _l("Crawls asked for here (“Crawl now”)"),
    "rematch": _l("Re-ranking after crawls, edits and desk feedback"),
    "digests:immediate": _l("Digests as new calls come"),
    "digests:daily": _l("Daily digests"),
    "digests:weekly": _l("Weekly digests"),
    "reminders": _l("Deadline reminders"),
    "outbox": _l("Sending the mail that is due"),
    "housekeeping": _l("Housekeeping: statuses as deadlines pass, old records pruned"),
}

# The jobs the scheduler runs every few seconds or minutes (``scheduler.jobs.POLLING_JOBS``).
POLLING = ("queue", "rematch", "digests:immediate", "outbox")


def job(job_id: str, names: dict[str, str]) -> str:
    """A scheduled job as words; ``names`` are the sources' names by slug."""
    if job_id.startswith("crawl:"):
        slug = job_id.removeprefix("crawl:")
        return _("Crawl of %(name)s", name=names.get(slug, slug))
    return str(JOBS.get(job_id, job_id))


def outcome(value: str) -> str:
    """A crawl outcome as a word."""
    return str(OUTCOME.get(value, value))


def duration(seconds: float | None) -> str:
    """How long a crawl took: "45 s", "3 min 20 s", "2 h 5 min"; "" when unknown."""
    if seconds is None:
        return ""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return _("%(h)s h %(m)s min", h=hours, m=minutes)
    if minutes:
        return _("%(m)s min %(s)s s", m=minutes, s=secs)
    return _("%(s)s s", s=secs)


def dropped_total(dropped: dict[str, int] | None) -> int:
    """How many records a crawl dropped, all reasons together."""
    return sum(int(n) for n in (dropped or {}).values())


def dropped_reasons(dropped: dict[str, int] | None) -> list[tuple[str, int]]:
    """Why records were dropped, most frequent first, each reason as words."""
    items = sorted((dropped or {}).items(), key=lambda item: (-int(item[1]), item[0]))
    return [(str(DROPPED.get(reason, reason.replace("_", " "))), int(n)) for reason, n in items]
