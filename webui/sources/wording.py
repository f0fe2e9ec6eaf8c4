"""How the sources page says a crawl's outcome and how long it took, in the reader's language."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

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


def _pruned(pruned: dict[str, int]) -> str:
    def n(key: str) -> int:
        return int(pruned.get(key, 0))

    return ", ".join([
        ngettext("%(num)s crawl run", "%(num)s crawl runs", n("crawl_runs")),
        ngettext("%(num)s match run", "%(num)s match runs", n("match_runs")),
        ngettext("%(num)s sent message", "%(num)s sent messages", n("notifications")),
        ngettext("%(num)s queue item", "%(num)s queue items", n("work_items")),
        ngettext("%(num)s job run", "%(num)s job runs", n("job_runs")),
    ])  # fmt: skip


def job_summary(summary: str, facts: dict[str, Any] | None) -> str:
    """What a job run did, in the reader's language, from the counts it recorded; the
    recorded English line for runs from before the counts were kept, or of a kind not
    known here."""
    f = facts or {}

    def n(key: str) -> int:
        return int(f.get(key) or 0)

    kind = f.get("kind")
    if kind == "crawl":
        return _("%(outcome)s: %(new)s new, %(updated)s updated, %(withdrawn)s withdrawn",
                 outcome=outcome(str(f.get("outcome", ""))), new=n("new"),
                 updated=n("updated"), withdrawn=n("withdrawn"))  # fmt: skip
    if kind == "crawl_busy":
        return _("skipped: another process was crawling this source")
    if kind == "queue":
        text = ngettext("%(num)s crawl asked for", "%(num)s crawls asked for", n("crawls"))
        if n("requeued"):
            text += "; " + ngettext(
                "%(num)s abandoned crawl queued again",
                "%(num)s abandoned crawls queued again",
                n("requeued"),
            )
        return text
    if kind == "rematch":
        if f.get("run") is None:
            return _("nothing to re-rank")
        if f.get("full"):
            return _("every profile re-ranked")
        return ngettext("%(num)s profile re-ranked", "%(num)s profiles re-ranked", n("profiles"))
    if kind == "compose":
        return _(
            "written to the outbox: %(digests)s, %(alerts)s, %(reminders)s",
            digests=ngettext("%(num)s digest", "%(num)s digests", n("digests")),
            alerts=ngettext("%(num)s change alert", "%(num)s change alerts", n("alerts")),
            reminders=ngettext("%(num)s reminder", "%(num)s reminders", n("reminders")),
        )
    if kind == "send":
        return _("%(sent)s sent, %(deferred)s deferred, %(failed)s refused for good, "
                 "%(suppressed)s held back", sent=n("sent"), deferred=n("deferred"),
                 failed=n("failed"), suppressed=n("suppressed"))  # fmt: skip
    if kind == "housekeeping":
        statuses = ngettext("%(num)s status brought up to date",
                            "%(num)s statuses brought up to date", n("statuses"))  # fmt: skip
        return _("%(statuses)s; pruned: %(pruned)s", statuses=statuses,
                 pruned=_pruned(f.get("pruned") or {}))  # fmt: skip
    return summary


def job_error(error: str, facts: dict[str, Any] | None) -> str:
    """Why a job run failed, in the reader's language where the run recorded its counts; a
    crawler's or server's own reason stays as it was reported."""
    f = facts or {}
    kind = f.get("kind")
    if kind == "crawl_failed":
        return _("the crawl failed: %(reason)s", reason=f.get("reason", ""))
    if kind == "queue_failed":
        failed, crawls = int(f.get("failed") or 0), int(f.get("crawls") or 0)
        return ", ".join([
            ngettext("%(num)s crawl asked for failed", "%(num)s crawls asked for failed", failed),
            ngettext("%(num)s succeeded", "%(num)s succeeded", crawls),
        ])  # fmt: skip
    if kind == "rematch_failed":
        return _("the re-ranking failed (%(error)s); the previous rankings are kept",
                 error=f.get("error", ""))  # fmt: skip
    return error
