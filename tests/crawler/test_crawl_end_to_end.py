"""Whole crawls: ``python -m crawler`` through Scrapy's real downloader against a local mirror
of the saved responses, with faults injected. Each fault leaves the store correct; a later
good run recovers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from crawler.mirror import serve_snapshot_in_background
from storage.models import CallChange, CrawlRun, FundingCall
from tests.crawler.conftest import EU_MIRROR

ALL_IDS = 8


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    """A private copy of the test mirror that a test may break."""
    root = tmp_path / "snapshot"
    shutil.copytree(EU_MIRROR, root)
    return root


@pytest.fixture
def mirror(snapshot: Path) -> Iterator[str]:
    url, stop = serve_snapshot_in_background(snapshot)
    yield url
    stop()


def crawl(database_url: str, tmp_path: Path, mirror: str, *settings: str) -> int:
    """Run one crawl process, as ``foerderdesk crawl`` does; its exit code."""
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
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    return done.returncode


def last_run(session: Session) -> CrawlRun:
    session.expire_all()
    return session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()


def stored(session: Session) -> dict[str, FundingCall]:
    session.expire_all()
    return {c.source_id: c for c in session.scalars(select(FundingCall))}


def faults(snapshot: Path, *rules: dict) -> None:
    (snapshot / "_faults.json").write_text(json.dumps(list(rules)))


def test_good_crawl_stores_every_topic_and_a_second_run_changes_nothing(
    engine: Engine, session: Session, database_url: str, tmp_path: Path, mirror: str
) -> None:
    assert crawl(database_url, tmp_path, mirror) == 0
    run = last_run(session)
    assert (run.outcome, run.calls_new, run.errors) == ("succeeded", ALL_IDS, 0)
    assert run.requests >= ALL_IDS + 3  # facet, 3 pages (robots.txt too), one per topic
    calls = stored(session)
    assert len(calls) == ALL_IDS
    assert calls["EuropeAid/186246/DD/ACT/NG"].programme.startswith("EU External Action")
    assert calls["LIFE-2026-STRAT-CLIMA-SIP-two-stage"].deadline_model == "two_stage"

    assert crawl(database_url, tmp_path, mirror) == 0
    run = last_run(session)
    assert (run.outcome, run.calls_new, run.calls_unchanged, run.calls_withdrawn) == (
        "succeeded",
        0,
        ALL_IDS,
        0,
    )


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

    faults(snapshot, {"match": "ERC-2026-POC", "status": 500})
    assert crawl(database_url, tmp_path, mirror) == 3
    run = last_run(session)
    assert (run.outcome, run.calls_withdrawn) == ("partial", 0)
    assert stored(session)["ERC-2026-POC"].withdrawn_at is None


def test_timeouts_leave_the_store_correct_and_a_later_run_recovers(
    engine: Engine, session: Session, database_url: str, tmp_path: Path, snapshot: Path, mirror: str
) -> None:
    faults(snapshot, {"match": "CERV-2026-DAPHNE-CHILDREN", "delay": 3})
    assert crawl(database_url, tmp_path, mirror, "DOWNLOAD_TIMEOUT=1") == 3
    run = last_run(session)
    assert run.outcome == "partial"
    calls = stored(session)
    assert len(calls) == ALL_IDS - 1  # all but the one that timed out
    assert "CERV-2026-DAPHNE-CHILDREN" not in calls

    (snapshot / "_faults.json").unlink()
    url, stop = serve_snapshot_in_background(snapshot)  # a fresh server: no faults left
    try:
        assert crawl(database_url, tmp_path, url) == 0
    finally:
        stop()
    assert len(stored(session)) == ALL_IDS


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
