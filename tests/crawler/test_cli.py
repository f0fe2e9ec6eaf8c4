"""``foerderdesk crawl --status``, ``calls export`` and the crawl-run rules."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from crawler.runs import counts_from_stats, decide_outcome
from storage.calls import (
    CallRecord,
    CrawlCounts,
    DeadlineRecord,
    finish_crawl_run,
    start_crawl_run,
    sync_source,
    upsert_call,
    withdraw_unseen,
)
from storage.cli import main
from storage.config import Settings
from storage.models import utcnow


def _invoke(settings: Settings, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(
        main,
        ["--instance", str(settings.instance_path), "--database-url", settings.database_url, *args],
        catch_exceptions=False,
    )


def test_outcome_rules() -> None:
    ok = CrawlCounts(items_seen=5)
    assert decide_outcome("finished", ok) == ("succeeded", None)
    assert decide_outcome("blocked: captcha", ok) == ("failed", "blocked: captcha")
    assert decide_outcome("shutdown", ok)[0] == "failed"
    assert decide_outcome("finished", CrawlCounts(items_seen=5, errors=2))[0] == "partial"
    assert decide_outcome("finished", CrawlCounts())[0] == "failed"  # 0 raw items


def test_counts_from_scrapy_stats() -> None:
    counts = counts_from_stats(
        {
            "downloader/request_count": 12,
            "item_scraped_count": 7,
            "foerderdesk/dropped/duplicate": 2,
            "foerderdesk/calls_new": 5,
            "foerderdesk/calls_unchanged": 2,
            "log_count/ERROR": 1,
        }
    )
    assert (counts.requests, counts.items_seen, counts.calls_new, counts.errors) == (12, 9, 5, 1)
    assert counts.dropped == {"duplicate": 2}


def test_crawl_status_shows_the_last_runs(
    engine: Engine, session: Session, settings: Settings
) -> None:
    source = sync_source(session, {"slug": "eu_funding_tenders", "funder_type": "eu"})
    run = start_crawl_run(session, source)
    finish_crawl_run(session, run, "failed", CrawlCounts(requests=3), reason="blocked: captcha")
    session.commit()
    result = _invoke(settings, "crawl", "--status")
    assert result.exit_code == 0
    line = next(x for x in result.output.splitlines() if "eu_funding_tenders" in x)
    assert "failed" in line and "blocked: captcha" in line


def test_calls_export_jsonl_and_csv_with_status_filter(
    engine: Engine, session: Session, settings: Settings
) -> None:
    sync_source(session, {"slug": "eu_funding_tenders", "funder_type": "eu"})
    now = utcnow()
    for source_id, days in (("OPEN-1", 30), ("CLOSED-1", -30), ("GONE-1", 30)):
        upsert_call(
            session,
            CallRecord(
                source="eu_funding_tenders",
                source_id=source_id,
                url=f"https://example.org/{source_id}",
                title=source_id,
                funder_type="eu",
                deadline_model="two_stage",
                deadlines=[
                    DeadlineRecord(due_at=now + timedelta(days=days), stage="1"),
                    DeadlineRecord(due_at=now + timedelta(days=days + 90), stage="2"),
                ],
                eligible_applicants=["municipality"],
            ),
            now=now - timedelta(days=60),
        )
    session.commit()
    withdraw_unseen(session, "eu_funding_tenders", datetime.max.replace(tzinfo=UTC))
    upsert_call(  # OPEN-1 reappears; CLOSED-1 and GONE-1 stay withdrawn
        session,
        CallRecord(
            source="eu_funding_tenders",
            source_id="OPEN-1",
            url="https://example.org/OPEN-1",
            title="OPEN-1",
            funder_type="eu",
            deadline_model="two_stage",
            deadlines=[DeadlineRecord(due_at=now + timedelta(days=30), stage="1")],
            eligible_applicants=["municipality"],
        ),
    )
    session.commit()

    result = _invoke(settings, "calls", "export")
    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    by_id = {r["source_id"]: r for r in rows}
    assert set(by_id) == {"OPEN-1", "CLOSED-1", "GONE-1"}
    for key in (
        "source",
        "url",
        "title",
        "programme",
        "funder_type",
        "language",
        "status",
        "deadlines",
        "next_deadline",
        "eligible_applicants",
        "budget_eur",
        "first_seen",
        "last_changed",
    ):
        assert key in by_id["OPEN-1"]
    assert by_id["OPEN-1"]["status"] == "open"
    assert by_id["GONE-1"]["status"] == "withdrawn"
    due = by_id["OPEN-1"]["deadlines"][0]["due"]
    assert datetime.fromisoformat(due).utcoffset() is not None  # ISO 8601 with offset

    only_open = _invoke(settings, "calls", "export", "--status", "open")
    assert [
        json.loads(x)["source_id"] for x in only_open.output.splitlines() if x.startswith("{")
    ] == ["OPEN-1"]

    as_csv = _invoke(settings, "calls", "export", "--format", "csv", "--status", "withdrawn")
    table = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["source_id"] for r in table] == ["CLOSED-1", "GONE-1"]
    assert table[0]["eligible_applicants"] == "municipality"


def test_details_counts_reach_the_run_and_its_summary_line(session: Session) -> None:
    from crawler.runs import summary_line

    counts = counts_from_stats(
        {
            "item_scraped_count": 629,
            "foerderdesk/details_fetched": 3,
            "foerderdesk/details_skipped": 624,
            "foerderdesk/details_missing": 2,
        }
    )
    assert (counts.details_fetched, counts.details_skipped, counts.details_missing) == (3, 624, 2)
    source = sync_source(session, {"slug": "eu_funding_tenders", "funder_type": "eu"})
    run = finish_crawl_run(session, start_crawl_run(session, source), "partial", counts)
    line = summary_line(run)
    assert "3 details fetched, 624 details skipped as unchanged, 2 details missing" in line
    assert "details" not in summary_line(
        finish_crawl_run(session, start_crawl_run(session, source), "succeeded", CrawlCounts())
    )
