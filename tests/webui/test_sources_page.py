"""The sources page: recent runs, freshness and next run for everyone signed in; "crawl now"
for admins only, queued once and never run in the request."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from storage.config import Settings
from storage.models import (
    CrawlRun,
    JobRun,
    SchedulerLease,
    Source,
    WorkItem,
    apscheduler_jobs,
    utcnow,
)
from tests.storage.factories import make_source
from tests.webui.logins import add_user, csrf_token, login

SOURCES_FILE = """
sources:
  - slug: eu_portal
    spider: eu_portal
    name: EU-Portal
    schedule: "30 2 * * *"
  - slug: weekly_site
    spider: funder_page
    name: Wöchentliche Seite
    schedule: "15 1 * * 1"
"""


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The app reads a small sources file of the test's own."""
    path = tmp_path / "sources.yaml"
    path.write_text(SOURCES_FILE, encoding="utf-8")
    return replace(settings, sources_file=str(path))


def signed_in(client: FlaskClient, session: Session, role: str) -> None:
    add_user(session, f"{role}@example.org", role, department="Umwelt")
    login(client, f"{role}@example.org")
    client.set_cookie("lang", "en")


def crawl_items(session: Session) -> list[WorkItem]:
    session.expire_all()
    return list(session.scalars(select(WorkItem).where(WorkItem.kind == "crawl")))


def add_run(session: Session, slug: str, outcome: str, hours_ago: float, **counts) -> CrawlRun:
    source = make_source(session, slug, name="EU-Portal", schedule="30 2 * * *")
    started = utcnow() - timedelta(hours=hours_ago)
    run = CrawlRun(source=source, started_at=started, finished_at=started + timedelta(minutes=3),
                   outcome=outcome, duration_seconds=200, **counts)  # fmt: skip
    session.add(run)
    session.flush()
    return run


@pytest.mark.parametrize("path", ["/sources/", "/sources/eu_portal"])
def test_the_sources_pages_need_a_login(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["admin", "desk", "staff"])
def test_everyone_signed_in_sees_runs_counts_and_freshness(
    client: FlaskClient, session: Session, role: str
) -> None:
    add_run(session, "eu_portal", "succeeded", 30, calls_new=4, calls_updated=7,
            calls_unchanged=120, calls_withdrawn=2, dropped={"bad_url": 3}, errors=1,
            details_fetched=9, details_missing=2)  # fmt: skip
    add_run(session, "eu_portal", "failed", 5, reason="HTTP 503 from the portal")
    session.commit()
    signed_in(client, session, role)
    page = client.get("/sources/").get_data(as_text=True)
    portal = page.split('id="source-eu_portal"')[1].split("</section>")[0]
    assert "last run failed" in portal and "stale" not in portal
    assert "failed" in portal and "succeeded" in portal
    for cell in ('"New">4<', '"Updated">7<', '"Unchanged">120<', '"Withdrawn">2<',
                 '"Dropped">3<', '"Errors">1<', '"Details fetched / missing">9 / 2<'):  # fmt: skip
        assert cell in portal, cell
    assert "3 min 20 s" in portal
    assert "Next scheduled run" in portal and "<time datetime=" in portal
    # Listed in the file, never crawled: on the page, stale, with its next run.
    weekly = page.split('id="source-weekly_site"')[1].split("</section>")[0]
    assert "Wöchentliche Seite" in weekly and "stale" in weekly and "Not crawled yet." in weekly
    detail = client.get("/sources/eu_portal").get_data(as_text=True)
    assert "HTTP 503 from the portal" in detail and "unusable address: 3" in detail


def test_an_unknown_source_is_404(client: FlaskClient, session: Session) -> None:
    signed_in(client, session, "desk")
    assert client.get("/sources/nope").status_code == 404


@pytest.mark.parametrize("role", ["desk", "staff"])
def test_only_admins_may_crawl_now(client: FlaskClient, session: Session, role: str) -> None:
    signed_in(client, session, role)
    page = client.get("/sources/").get_data(as_text=True)
    assert "Crawl now" not in page
    token = csrf_token(client, "/calendar/")
    response = client.post("/sources/eu_portal/crawl", data={"csrf_token": token})
    assert response.status_code == 403
    assert crawl_items(session) == []


def test_anonymous_crawl_now_is_sent_to_the_login(client: FlaskClient, session: Session) -> None:
    token = csrf_token(client, "/login")
    response = client.post("/sources/eu_portal/crawl", data={"csrf_token": token})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert crawl_items(session) == []


def test_crawl_now_needs_its_csrf_token(client: FlaskClient, session: Session) -> None:
    signed_in(client, session, "admin")
    assert client.post("/sources/eu_portal/crawl").status_code == 400
    assert crawl_items(session) == []


def test_crawl_now_queues_once_and_the_page_says_so(client: FlaskClient, session: Session) -> None:
    signed_in(client, session, "admin")
    token = csrf_token(client, "/sources/")
    assert "Crawl now" in client.get("/sources/").get_data(as_text=True)
    first = client.post("/sources/weekly_site/crawl", data={"csrf_token": token})
    assert first.status_code == 302
    # The source had no row yet: it was made from the sources file, for the queue to refer to.
    assert session.scalar(select(Source.name).where(Source.slug == "weekly_site")) == (
        "Wöchentliche Seite"
    )
    page = client.get("/sources/").get_data(as_text=True)
    weekly = page.split('id="source-weekly_site"')[1].split("</section>")[0]
    assert "Crawl queued since" in weekly and "Crawl now" not in weekly
    assert "is queued" in page
    second = client.post("/sources/weekly_site/crawl", data={"csrf_token": token})
    assert second.status_code == 302
    (item,) = crawl_items(session)
    assert (item.source_slug, item.state, item.reason) == ("weekly_site", "queued", "crawl now")
    assert "already waiting" in client.get("/sources/").get_data(as_text=True)
    # Running counts as waiting too: no second crawl is queued behind it.
    item.state, item.started_at = "running", utcnow()
    session.commit()
    assert "Crawl running since" in client.get("/sources/").get_data(as_text=True)
    client.post("/sources/weekly_site/crawl", data={"csrf_token": token})
    assert len(crawl_items(session)) == 1


def test_crawl_now_refuses_a_source_the_file_does_not_list(
    client: FlaskClient, session: Session
) -> None:
    make_source(session, "gone")
    session.commit()
    signed_in(client, session, "admin")
    token = csrf_token(client, "/sources/")
    assert client.post("/sources/gone/crawl", data={"csrf_token": token}).status_code == 404
    assert crawl_items(session) == []


def test_the_page_shows_the_schedulers_jobs_their_last_and_next_runs(
    client: FlaskClient, session: Session
) -> None:
    signed_in(client, session, "desk")
    page = client.get("/sources/").get_data(as_text=True)
    assert "No scheduler is running" in page and "The scheduler has not run yet." in page

    now = utcnow()
    session.add(SchedulerLease(name="scheduler", holder="planer-host:4242:ab12", acquired_at=now,
                               renewed_at=now, expires_at=now + timedelta(seconds=30)))  # fmt: skip
    session.execute(insert(apscheduler_jobs).values(
        [{"id": "crawl:eu_portal", "next_run_time": (now + timedelta(hours=5)).timestamp(),
          "job_state": b"x"},
         {"id": "housekeeping", "next_run_time": (now + timedelta(hours=9)).timestamp(),
          "job_state": b"x"}]))  # fmt: skip
    session.add_all([
        JobRun(job_id="crawl:eu_portal", started_at=now - timedelta(hours=2),
               finished_at=now - timedelta(hours=2) + timedelta(seconds=75), outcome="failed",
               error="crawl of eu_portal failed: blocked: CAPTCHA page"),
        JobRun(job_id="rematch", started_at=now - timedelta(minutes=3),
               finished_at=now - timedelta(minutes=3), outcome="succeeded",
               summary="re-matched every profile (match run 7)"),
    ])  # fmt: skip
    session.commit()
    page = client.get("/sources/").get_data(as_text=True)
    section = page.split('id="scheduler"')[1]
    assert "Running on planer-host:4242 since" in section
    rows = {row.split("<code")[1].split(">")[1].split("<")[0]: row
            for row in section.split("<tr")[2:]}  # fmt: skip
    assert "blocked: CAPTCHA page" in rows["crawl:eu_portal"]
    assert "Crawl of EU-Portal" in rows["crawl:eu_portal"]
    assert "1 min 15 s" in rows["crawl:eu_portal"]
    assert "re-matched every profile (match run 7)" in rows["rematch"]
    assert "continually" in rows["rematch"] and "nothing to do yet" in rows["queue"]
    assert "not yet" in rows["housekeeping"]
    # The polls first, the crawls last.
    order = list(rows)
    assert order[0] == "queue" and order[-1] == "crawl:eu_portal"


def test_crawl_now_without_a_running_scheduler_says_it_waits(
    client: FlaskClient, session: Session
) -> None:
    signed_in(client, session, "admin")
    token = csrf_token(client, "/sources/")
    client.post("/sources/eu_portal/crawl", data={"csrf_token": token})
    page = client.get("/sources/").get_data(as_text=True)
    assert "no scheduler is running: it starts when one does" in page
    assert len(crawl_items(session)) == 1


def test_job_summaries_are_said_in_the_readers_language(
    client: FlaskClient, session: Session
) -> None:
    signed_in(client, session, "desk")
    now = utcnow()
    pruned = {"crawl_runs": 2, "call_changes_detached": 0, "match_runs": 1, "notifications": 0,
              "subscription_calls_detached": 0, "work_items": 0, "job_runs": 5}  # fmt: skip
    session.add_all([
        JobRun(job_id="outbox", started_at=now, finished_at=now, outcome="succeeded",
               summary="sent 3, deferred 1, failed 0, suppressed 0",
               facts={"kind": "send", "sent": 3, "deferred": 1, "failed": 0, "suppressed": 0}),
        JobRun(job_id="housekeeping", started_at=now, finished_at=now, outcome="succeeded",
               summary="1 status(es) brought up to date; pruned …",
               facts={"kind": "housekeeping", "statuses": 1, "pruned": pruned}),
        JobRun(job_id="digests:daily", started_at=now, finished_at=now, outcome="succeeded",
               summary="composed 4 digest(s), 0 change alert(s), 0 reminder(s)"),  # before facts
        JobRun(job_id="queue", started_at=now, finished_at=now, outcome="failed",
               error="1 queued crawl(s) failed; 0 succeeded",
               facts={"kind": "queue_failed", "failed": 1, "crawls": 0}),
    ])  # fmt: skip
    session.commit()

    def rows() -> dict[str, str]:
        section = client.get("/sources/").get_data(as_text=True).split('id="scheduler"')[1]
        return {row.split("<code")[1].split(">")[1].split("<")[0]: row
                for row in section.split("<tr")[2:]}  # fmt: skip

    english = rows()
    assert "3 sent, 1 deferred, 0 refused for good, 0 held back" in english["outbox"]
    assert ("1 status brought up to date; pruned: 2 crawl runs, 1 match run, 0 sent messages,"
            " 0 queue items, 5 job runs") in english["housekeeping"]  # fmt: skip
    assert "composed 4 digest(s)" in english["digests:daily"]
    assert "1 crawl asked for failed, 0 succeeded" in english["queue"]
    client.set_cookie("lang", "de")
    german = rows()
    assert (
        "3 gesendet, 1 zurückgestellt, 0 endgültig abgewiesen, 0 zurückgehalten" in german["outbox"]
    )
    assert (
        "1 Status aktualisiert; gelöscht: 2 Abruf-Protokolle, 1 Ranking-Lauf"
        in german["housekeeping"]
    )
    assert "1 angeforderter Abruf fehlgeschlagen, 0 gelungen" in german["queue"]
