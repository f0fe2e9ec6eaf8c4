"""Whole crawls: ``python -m crawler`` through Scrapy's real downloader against a local mirror
of the saved responses, with faults injected. Each fault leaves the store correct; a later
good run recovers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from crawler.mirror import serve_snapshot_in_background
from storage.models import CallChange, CrawlRun, FundingCall

ALL_IDS = 8


def crawl(database_url: str, tmp_path: Path, mirror: str, *settings: str) -> int:
    """Run one crawl process, as ``foerderdesk crawl`` does; its exit code."""
    return crawl_process(database_url, tmp_path, mirror, *settings).returncode


def crawl_process(
    database_url: str, tmp_path: Path, mirror: str, *settings: str
) -> subprocess.CompletedProcess[str]:
    """Run one crawl process; the finished process (exit code, summary line on stdout)."""
    env = dict(os.environ)
    env.update(
        {
            "FOERDERDESK_DATABASE_URL": database_url,
            "FOERDERDESK_INSTANCE_PATH": str(tmp_path / "instance"),
            "FOERDERDESK_LOG_LEVEL": "WARNING",
        }
    )
    env.pop("FOERDERDESK_CRAWL_MIRROR", None)
    command = [sys.executable, "-m", "crawler", "eu_funding_tenders", "--mirror", mirror]
    for setting in ("FOERDERDESK_BACKOFF_BASE=0", "RETRY_TIMES=1", *settings):
        command += ["-s", setting]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def last_run(session: Session) -> CrawlRun:
    session.expire_all()
    return session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()


def stored(session: Session) -> dict[str, FundingCall]:
    session.expire_all()
    return {c.source_id: c for c in session.scalars(select(FundingCall))}


def faults(snapshot: Path, *rules: dict) -> None:
    (snapshot / "_faults.json").write_text(json.dumps(list(rules)))


def _details_of(calls: dict[str, FundingCall]) -> dict[str, tuple]:
    return {
        k: (
            c.description,
            c.conditions,
            c.eligible_applicants,
            c.content_hash,
            c.details_fetched_at,
        )
        for k, c in calls.items()
    }


def test_good_crawl_stores_every_topic_and_a_second_run_changes_nothing(
    engine: Engine, session: Session, database_url: str, tmp_path: Path, mirror: str
) -> None:
    assert crawl(database_url, tmp_path, mirror) == 0
    run = last_run(session)
    assert (run.outcome, run.calls_new, run.errors) == ("succeeded", ALL_IDS, 0)
    assert run.requests >= ALL_IDS + 3  # facet, 3 pages (robots.txt too), one per topic
    assert (run.details_fetched, run.details_skipped, run.details_missing) == (ALL_IDS, 0, 0)
    first_requests = run.requests
    calls = stored(session)
    assert len(calls) == ALL_IDS
    europeaid = calls["EuropeAid/186246/DD/ACT/NG"]  # "/" in the identifier, quoted
    assert europeaid.programme.startswith("EU External Action")
    assert not europeaid.details_missing and europeaid.details_fetched_at is not None
    assert all(c.details_fetched_at and c.record_hash for c in calls.values())
    assert calls["LIFE-2026-STRAT-CLIMA-SIP-two-stage"].deadline_model == "two_stage"
    before = _details_of(calls)
    seen = {k: (c.last_seen_at, c.last_changed_at) for k, c in calls.items()}

    # Incremental: the same snapshot again needs no details request at all.
    second = crawl_process(database_url, tmp_path, mirror)
    assert second.returncode == 0
    run = last_run(session)
    assert (run.outcome, run.calls_new, run.calls_unchanged, run.calls_withdrawn) == (
        "succeeded",
        0,
        ALL_IDS,
        0,
    )
    assert (run.details_fetched, run.details_skipped, run.details_missing) == (0, ALL_IDS, 0)
    assert run.requests == 5  # robots.txt, facet, 3 search pages
    assert first_requests - run.requests == ALL_IDS + 1  # + the details host's robots.txt
    assert f"{ALL_IDS} details skipped as unchanged" in second.stdout
    after = stored(session)
    assert _details_of(after) == before
    # freshness: seen again at the source, not changed
    assert all(c.last_seen_at > seen[k][0] for k, c in after.items())
    assert all(c.last_changed_at == seen[k][1] for k, c in after.items())
    assert all(c.withdrawn_at is None for c in after.values())


def test_failed_details_are_stored_from_the_search_record_and_completed_by_a_later_run(
    engine: Engine, session: Session, database_url: str, tmp_path: Path, snapshot: Path, mirror: str
) -> None:
    faults(
        snapshot,
        {"match": "topicDetails/ERC-2026-POC", "status": 500},
        {"match": "topicDetails/CEF-T-2026-MILMOB-WORKS", "status": 404},
    )
    first = crawl_process(database_url, tmp_path, mirror)
    assert first.returncode == 3  # partial: nothing withdrawn
    run = last_run(session)
    assert (run.outcome, run.calls_new, run.calls_withdrawn) == ("partial", ALL_IDS, 0)
    assert (run.details_fetched, run.details_missing) == (ALL_IDS - 2, 2)
    assert "2 details missing" in first.stdout
    calls = stored(session)
    assert len(calls) == ALL_IDS  # nothing lost
    for key in ("ERC-2026-POC", "CEF-T-2026-MILMOB-WORKS"):
        call = calls[key]
        assert call.details_missing and call.details_fetched_at is None
        assert call.title and call.deadlines and call.call_identifier  # the search record's
        assert call.conditions == ""  # the search record has none
    assert not calls["CERV-2026-CITIZENS-TOWN-TT"].details_missing

    (snapshot / "_faults.json").unlink()  # the details answer again
    assert crawl(database_url, tmp_path, mirror) == 0
    run = last_run(session)
    assert (run.outcome, run.calls_withdrawn) == ("succeeded", 0)
    assert (run.details_fetched, run.details_skipped, run.details_missing) == (2, ALL_IDS - 2, 0)
    assert run.calls_updated == 2
    calls = stored(session)
    for key in ("ERC-2026-POC", "CEF-T-2026-MILMOB-WORKS"):
        call = calls[key]
        assert not call.details_missing and call.details_fetched_at is not None
        assert call.conditions  # completed from its details


def test_a_changed_search_record_has_its_details_fetched_again(
    engine: Engine, session: Session, database_url: str, tmp_path: Path, snapshot: Path, mirror: str
) -> None:
    assert crawl(database_url, tmp_path, mirror) == 0
    before = _details_of(stored(session))
    pages = snapshot / "eu_ft_sedia"
    page = json.loads((pages / "search_page_1.json").read_text())
    page["results"][1]["metadata"]["deadlineDate"] = ["2026-12-01T00:00:00.000+0000"]
    (pages / "search_page_1.json").write_text(json.dumps(page))
    assert crawl(database_url, tmp_path, mirror) == 0
    run = last_run(session)
    assert (run.details_fetched, run.details_skipped) == (1, ALL_IDS - 1)
    assert (run.calls_updated, run.calls_unchanged) == (1, ALL_IDS - 1)
    after = _details_of(stored(session))
    assert after["ERC-2026-POC"][-1] > before["ERC-2026-POC"][-1]  # details fetched again
    assert {k: v for k, v in after.items() if k != "ERC-2026-POC"} == {
        k: v for k, v in before.items() if k != "ERC-2026-POC"
    }


def test_captcha_page_fails_the_run_and_changes_no_stored_call(
    engine: Engine, session: Session, database_url: str, tmp_path: Path, snapshot: Path, mirror: str
) -> None:
    assert crawl(database_url, tmp_path, mirror) == 0
    before = {k: (c.content_hash, c.withdrawn_at) for k, c in stored(session).items()}
    faults(
        snapshot,
        {"match": "pageNumber=1", "body": "<html><h1>Radware Captcha Page</h1></html>"},
    )
    assert crawl(database_url, tmp_path, mirror) == 1
    run = last_run(session)
    assert run.outcome == "failed"
    assert run.reason.startswith("blocked: ")
    after = {k: (c.content_hash, c.withdrawn_at) for k, c in stored(session).items()}
    assert after == before


def test_truncated_json_page_makes_a_partial_run_without_withdrawals(
    engine: Engine, session: Session, database_url: str, tmp_path: Path, snapshot: Path, mirror: str
) -> None:
    assert crawl(database_url, tmp_path, mirror) == 0
    page2 = snapshot / "eu_ft_sedia" / "search_page_2.json"
    good = page2.read_text()
    page2.write_text(good[: len(good) // 2])
    assert crawl(database_url, tmp_path, mirror) == 3
    run = last_run(session)
    assert run.outcome == "partial"
    assert run.calls_withdrawn == 0
    assert all(c.withdrawn_at is None for c in stored(session).values())

    page2.write_text(good)  # the source recovers
    assert crawl(database_url, tmp_path, mirror) == 0
    assert last_run(session).outcome == "succeeded"


def test_http_500_is_retried_and_a_lasting_500_is_partial(
    engine: Engine, session: Session, database_url: str, tmp_path: Path, snapshot: Path, mirror: str
) -> None:
    faults(snapshot, {"match": "pageNumber=2", "status": 500, "times": 1})
    assert crawl(database_url, tmp_path, mirror) == 0  # one retry was enough
    assert len(stored(session)) == ALL_IDS

    faults(snapshot, {"match": "pageNumber=3", "status": 500})
    assert crawl(database_url, tmp_path, mirror) == 3
    run = last_run(session)
    assert (run.outcome, run.calls_withdrawn) == ("partial", 0)
    assert all(c.withdrawn_at is None for c in stored(session).values())


def test_timeouts_leave_the_store_correct_and_a_later_run_recovers(
    engine: Engine, session: Session, database_url: str, tmp_path: Path, snapshot: Path, mirror: str
) -> None:
    faults(snapshot, {"match": "CERV-2026-DAPHNE-CHILDREN", "delay": 3})
    assert crawl(database_url, tmp_path, mirror, "DOWNLOAD_TIMEOUT=1") == 3
    run = last_run(session)
    assert (run.outcome, run.details_missing) == ("partial", 1)
    calls = stored(session)
    assert len(calls) == ALL_IDS  # the one that timed out from its search record
    assert calls["CERV-2026-DAPHNE-CHILDREN"].details_missing

    (snapshot / "_faults.json").unlink()
    url, stop = serve_snapshot_in_background(snapshot)  # a fresh server: no faults left
    try:
        assert crawl(database_url, tmp_path, url) == 0
    finally:
        stop()
    assert last_run(session).details_fetched == 1  # only the one that timed out
    calls = stored(session)
    assert len(calls) == ALL_IDS
    assert not calls["CERV-2026-DAPHNE-CHILDREN"].details_missing


def test_duplicate_across_pages_is_stored_once_and_counted(
    engine: Engine, session: Session, database_url: str, tmp_path: Path, snapshot: Path, mirror: str
) -> None:
    pages = snapshot / "eu_ft_sedia"
    first = json.loads((pages / "search_page_1.json").read_text())
    second = json.loads((pages / "search_page_2.json").read_text())
    second["results"].append(first["results"][0])
    (pages / "search_page_2.json").write_text(json.dumps(second))
    assert crawl(database_url, tmp_path, mirror) == 0
    run = last_run(session)
    assert run.outcome == "succeeded"
    assert run.dropped == {"duplicate": 1}
    assert len(stored(session)) == ALL_IDS


def test_call_gone_from_a_successful_crawl_is_withdrawn(
    engine: Engine, session: Session, database_url: str, tmp_path: Path, snapshot: Path, mirror: str
) -> None:
    assert crawl(database_url, tmp_path, mirror) == 0
    pages = snapshot / "eu_ft_sedia"
    last = json.loads((pages / "search_page_3.json").read_text())
    gone = last["results"].pop()["metadata"]["identifier"][0]
    (pages / "search_page_3.json").write_text(json.dumps(last))
    assert crawl(database_url, tmp_path, mirror) == 0
    run = last_run(session)
    assert run.calls_withdrawn == 1
    call = stored(session)[gone]
    assert call.status == "withdrawn"
    session.expire_all()
    changes = session.scalars(select(CallChange).where(CallChange.call_id == call.id)).all()
    assert [(c.field, c.new_value) for c in changes] == [("status", "withdrawn")]


def test_crawl_command_re_matches_only_when_calls_changed(  # type: ignore[no-untyped-def]
    engine: Engine, session: Session, database_url: str, tmp_path: Path, mirror: str
) -> None:
    from click.testing import CliRunner

    from storage.cli import main
    from storage.models import MatchRun
    from tests.storage.factories import make_profile

    make_profile(session, slug="klima", description="Climate and biodiversity in cities.")
    session.commit()
    args = ["--instance", str(tmp_path / "instance"), "--database-url", database_url,
            "crawl", "eu_funding_tenders", "--mirror", mirror]  # fmt: skip
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    session.expire_all()
    runs = session.scalars(select(MatchRun)).all()
    assert [(r.trigger, r.outcome) for r in runs] == [("crawl", "succeeded")]
    assert runs[0].profiles_count == 1

    again = CliRunner().invoke(main, args)  # nothing changed: no re-match
    assert again.exit_code == 0, again.output
    session.expire_all()
    assert len(session.scalars(select(MatchRun)).all()) == 1
