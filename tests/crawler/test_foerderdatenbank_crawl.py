"""Whole crawls of the Förderdatenbank export: ``python -m crawler foerderdatenbank`` through
Scrapy's downloader against a local mirror of the real excerpt, conditional requests, and
the faults of a download that is not the export, or not all of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from crawler.foerderdatenbank.build import build_export
from crawler.mirror import serve_snapshot_in_background
from tests.crawler.conftest import FDB_DOCS, FDB_EXPORT, FDB_EXPORT_PATH
from tests.crawler.test_crawl_end_to_end import last_run, stored

PROGRAMMES = {
    "Bund/BA/eingliederungszuschuss-bund",
    "Bund/BKM/deutsch-franzoesische-kooperationen-film-ffa",
    "Bund/BMAS/einstiegsgeld",
}


def crawl(database_url: str, tmp_path: Path, mirror: str) -> subprocess.CompletedProcess[str]:
    """One crawl process of the source, as ``foerderdesk crawl foerderdatenbank`` runs it."""
    env = {**os.environ, "FOERDERDESK_DATABASE_URL": database_url,
           "FOERDERDESK_INSTANCE_PATH": str(tmp_path / "instance"),
           "FOERDERDESK_LOG_LEVEL": "WARNING"}  # fmt: skip
    env.pop("FOERDERDESK_CRAWL_MIRROR", None)
    command = [sys.executable, "-m", "crawler", "foerderdatenbank", "--mirror", mirror,
               "-s", "FOERDERDESK_BACKOFF_BASE=0", "-s", "RETRY_TIMES=1"]  # fmt: skip
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_the_export_is_stored_and_an_unchanged_export_is_a_cheap_successful_run(
    engine: Engine, session: Session, database_url: str, tmp_path: Path, fdb_mirror: str
) -> None:
    first = crawl(database_url, tmp_path, fdb_mirror)
    assert first.returncode == 0, first.stderr
    run = last_run(session)
    assert (run.outcome, run.calls_new, run.errors, run.requests) == ("succeeded", 3, 0, 2)
    assert run.reason == "export: 3 programmes, 3 kept (regions DE-NI, DE)"
    calls = stored(session)
    assert set(calls) == PROGRAMMES
    assert all(c.regions == ["DE"] for c in calls.values())
    assert calls["Bund/BMAS/einstiegsgeld"].status == "open"  # no deadline, issued in 2020
    seen = {k: (c.last_seen_at, c.last_changed_at, c.content_hash) for k, c in calls.items()}

    second = crawl(database_url, tmp_path, fdb_mirror)  # the mirror answers 304
    assert second.returncode == 0, second.stderr
    run = last_run(session)
    assert (run.outcome, run.items_seen, run.calls_unchanged, run.calls_withdrawn) == (
        "succeeded",
        0,
        3,
        0,
    )
    assert run.reason.startswith("export unchanged since the last complete read (HTTP 304)")
    after = stored(session)
    assert all(c.withdrawn_at is None for c in after.values())
    assert all(c.last_seen_at > seen[k][0] for k, c in after.items())  # seen at the source
    assert all((c.last_changed_at, c.content_hash) == seen[k][1:] for k, c in after.items())


def test_a_changed_export_is_read_again_and_a_programme_gone_is_withdrawn(
    engine: Engine, session: Session, database_url: str, tmp_path: Path,
    fdb_snapshot: Path, fdb_mirror: str,
) -> None:  # fmt: skip
    assert crawl(database_url, tmp_path, fdb_mirror).returncode == 0
    gone = FDB_DOCS + "Foerderprogramm/Bund/BMAS/einstiegsgeld.xml"
    build_export(FDB_EXPORT, fdb_snapshot / "static" / FDB_EXPORT_PATH, overrides={gone: None})
    assert crawl(database_url, tmp_path, fdb_mirror).returncode == 0
    run = last_run(session)
    assert (run.outcome, run.calls_unchanged, run.calls_withdrawn) == ("succeeded", 2, 1)
    assert stored(session)["Bund/BMAS/einstiegsgeld"].status == "withdrawn"


def test_a_bot_check_page_fails_the_run_as_blocked_and_changes_nothing(
    engine: Engine, session: Session, database_url: str, tmp_path: Path,
    fdb_snapshot: Path, fdb_mirror: str,
) -> None:  # fmt: skip
    assert crawl(database_url, tmp_path, fdb_mirror).returncode == 0
    before = {k: (c.content_hash, c.withdrawn_at) for k, c in stored(session).items()}
    validators = (tmp_path / "instance" / "crawler" / "foerderdatenbank_export.json").read_text()
    # The export changed (no 304), and the site answers with its bot check instead.
    build_export(FDB_EXPORT, fdb_snapshot / "static" / FDB_EXPORT_PATH, programmes=4)
    captcha = "<!DOCTYPE html><html><head><title>Radware Captcha Page</title></head></html>"
    (fdb_snapshot / "_faults.json").write_text(
        json.dumps([{"match": "/FDB/WS/export", "body": captcha}])
    )
    result = crawl(database_url, tmp_path, fdb_mirror)
    assert result.returncode == 1
    run = last_run(session)
    assert run.outcome == "failed"
    assert run.reason.startswith("blocked: the export is not a zip")
    assert {k: (c.content_hash, c.withdrawn_at) for k, c in stored(session).items()} == before
    kept = (tmp_path / "instance" / "crawler" / "foerderdatenbank_export.json").read_text()
    assert kept == validators  # the next run still asks for what changed since the last read


def test_a_truncated_export_fails_the_run_and_withdraws_nothing(
    engine: Engine, session: Session, database_url: str, tmp_path: Path,
    fdb_snapshot: Path, fdb_mirror: str,
) -> None:  # fmt: skip
    assert crawl(database_url, tmp_path, fdb_mirror).returncode == 0
    export = fdb_snapshot / "static" / FDB_EXPORT_PATH
    whole = export.read_bytes()
    export.write_bytes(whole[: len(whole) * 2 // 3])  # the server sent only part of it
    result = crawl(database_url, tmp_path, fdb_mirror)
    assert result.returncode == 1
    run = last_run(session)
    assert (run.outcome, run.calls_withdrawn) == ("failed", 0)
    assert run.reason.startswith("truncated: the export's zip directory unreadable")
    assert all(c.withdrawn_at is None for c in stored(session).values())

    export.write_bytes(whole)  # whole again: read again, all there
    assert crawl(database_url, tmp_path, fdb_mirror).returncode == 0
    assert last_run(session).calls_unchanged == 3


def test_an_unreadable_programme_makes_a_partial_run_that_withdraws_nothing(
    engine: Engine, session: Session, database_url: str, tmp_path: Path,
    fdb_snapshot: Path, fdb_mirror: str,
) -> None:  # fmt: skip
    assert crawl(database_url, tmp_path, fdb_mirror).returncode == 0
    broken = FDB_DOCS + "Foerderprogramm/Bund/BMAS/einstiegsgeld.xml"
    build_export(FDB_EXPORT, fdb_snapshot / "static" / FDB_EXPORT_PATH,
                 overrides={broken: b"<document><property"})  # fmt: skip
    result = crawl(database_url, tmp_path, fdb_mirror)
    assert result.returncode == 3
    run = last_run(session)
    assert (run.outcome, run.calls_withdrawn, run.errors) == ("partial", 0, 1)
    assert "not kept: 1 unreadable" in run.reason
    assert stored(session)["Bund/BMAS/einstiegsgeld"].withdrawn_at is None
    # A partial read keeps no validators: the next run reads the export whole again.
    assert crawl(database_url, tmp_path, fdb_mirror).returncode == 3


def test_the_demo_snapshot_serves_the_export_beside_the_other_sources(
    engine: Engine, session: Session, database_url: str, tmp_path: Path
) -> None:
    url, stop = serve_snapshot_in_background()  # the bundled demo snapshot
    try:
        result = crawl(database_url, tmp_path, url)
    finally:
        stop()
    assert result.returncode == 0, result.stderr
    assert set(stored(session)) == PROGRAMMES
    assert "export: 3 programmes, 3 kept" in result.stdout
