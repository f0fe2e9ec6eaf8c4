"""The sources page: how each source is doing, its recent runs, and "crawl now" for admins.

Schedules come from the sources file (the crawler's loader), so the next run shown is the one
the scheduler plans; ``storage.source_health`` does the judging. "Crawl now" only queues a
crawl (``storage.work_queue``): the scheduler runs it in its own process, never the request.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crawler.sources import SourceEntry, SourcesFileError, load_sources, sources_path
from storage.calls import sync_source
from storage.job_runs import latest_job_runs, next_run_times
from storage.locks import live_lease
from storage.models import utcnow
from storage.queries import get_source
from storage.source_health import recent_runs, source_health, source_runs
from storage.work_queue import enqueue_crawl, waiting_crawls
from webui import formatting
from webui.auth import roles_required
from webui.db import db_session
from webui.sources import wording
from webui.sources.forms import CrawlNowForm

log = logging.getLogger(__name__)
bp = Blueprint("sources", __name__, url_prefix="/sources", template_folder="templates")
READERS = ("admin", "desk", "staff")
RUNS_ON_LIST = 5
RUNS_ON_PAGE = 20


def _file_entries() -> dict[str, SourceEntry]:
    """The sources file's entries by slug; none (the stored schedules) if it cannot be read."""
    try:
        return {e.slug: e for e in load_sources(sources_path(current_app.config["FOERDERDESK"]))}
    except SourcesFileError as exc:
        log.error("sources page without the sources file: %s", exc)
        return {}


def _health(entries: dict[str, SourceEntry]):  # type: ignore[no-untyped-def]
    return source_health(
        db_session(),
        utcnow(),
        {slug: e.schedule for slug, e in entries.items()},
        names={slug: e.name for slug, e in entries.items()},
        enabled={slug: e.enabled for slug, e in entries.items()},
    )


def _page_context() -> dict[str, object]:
    return {
        "wording": wording,
        "waiting": waiting_crawls(db_session()),
        "may_crawl": current_user.role == "admin",
        "crawl_form": CrawlNowForm(formdata=None),
    }


def _scheduler_jobs(entries: dict[str, SourceEntry]) -> list[dict[str, object]]:
    """Every job the scheduler stored or ran: its name, its last run and its next run.

    The polling jobs are not in the job store (the scheduler keeps them in memory); once a
    scheduler has stored its jobs they are listed too, as running "continually".
    """
    session = db_session()
    planned = next_run_times(session)
    last = latest_job_runs(session)
    names = {slug: e.name for slug, e in entries.items()}
    known = list(wording.JOBS)  # the jobs in the order people think of them, crawls last
    polls = set(wording.POLLING) if planned else set()

    def place(job_id: str) -> tuple[int, str]:
        return (known.index(job_id) if job_id in known else len(known), job_id)

    return [
        {
            "id": job_id,
            "name": wording.job(job_id, names),
            "last": last.get(job_id),
            "next_run": planned.get(job_id),
            "polling": job_id in wording.POLLING,
            "retired": job_id not in planned and job_id not in wording.POLLING,
        }
        for job_id in sorted(set(planned) | set(last) | polls, key=place)
    ]


@bp.get("/")
@roles_required(*READERS)
def index():  # type: ignore[no-untyped-def]
    """Every source: freshness, next run, recent runs; and the scheduler's jobs."""
    entries = _file_entries()
    return render_template(
        "sources/index.html",
        sources=_health(entries),
        runs=recent_runs(db_session(), per_source=RUNS_ON_LIST),
        in_file=set(entries),
        jobs=_scheduler_jobs(entries),
        scheduler=live_lease(db_session()),
        **_page_context(),
    )


@bp.get("/<slug>")
@roles_required(*READERS)
def show(slug: str):  # type: ignore[no-untyped-def]
    """One source's last runs, with why each failed or was partial."""
    entries = _file_entries()
    health = next((h for h in _health(entries) if h.slug == slug), None)
    if health is None:
        abort(404)
    return render_template(
        "sources/show.html",
        source=health,
        runs=source_runs(db_session(), slug, limit=RUNS_ON_PAGE),
        in_file=set(entries),
        **_page_context(),
    )


@bp.post("/<slug>/crawl")
@roles_required("admin")
def crawl(slug: str):  # type: ignore[no-untyped-def]
    """Queue a crawl of one source now; a crawl already waiting is not queued twice."""
    if not CrawlNowForm().validate_on_submit():
        abort(400)
    entry = _file_entries().get(slug)
    if entry is None:  # the crawler crawls only what the sources file lists
        abort(404)
    session = db_session()
    waiting = waiting_crawls(session).get(slug)
    if waiting is not None:
        since = waiting.started_at or waiting.created_at
        flash(_("A crawl of %(name)s is already waiting (since %(when)s).", name=entry.name,
                when=formatting.local_datetime(since, _timezone())), "info")  # fmt: skip
        return redirect(url_for("sources.index"))
    if get_source(session, slug) is None:
        sync_source(session, entry.as_dict())  # the queue refers to the source's row
    enqueue_crawl(session, slug, reason="crawl now", requested_by_id=current_user.id)
    session.commit()
    if live_lease(session) is None:
        flash(_("A crawl of %(name)s is queued, but no scheduler is running: it starts when "
                "one does (foerderdesk scheduler).", name=entry.name), "warning")  # fmt: skip
    else:
        flash(_("A crawl of %(name)s is queued; the scheduler starts it within a minute.",
                name=entry.name), "info")  # fmt: skip
    return redirect(url_for("sources.index"))


def _timezone() -> str:
    return str(current_app.config["FOERDERDESK"].timezone)
