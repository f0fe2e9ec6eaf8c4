"""One crawl of a source at a time: a second process crawling the same source refuses at once,
says who crawls it, and changes nothing; the first is not disturbed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from crawler.runs import EXIT_BUSY
from storage.locks import LeaseLock
from storage.models import CrawlRun, FundingCall, Source
from tests.crawler.test_crawl_end_to_end import ALL_IDS


def _start(database_url: str, tmp_path: Path, mirror: str, *settings: str) -> subprocess.Popen:
    env = {**os.environ, "FOERDERDESK_DATABASE_URL": database_url,
           "FOERDERDESK_INSTANCE_PATH": str(tmp_path / "instance"),
           "FOERDERDESK_LOG_LEVEL": "WARNING"}  # fmt: skip
    env.pop("FOERDERDESK_CRAWL_MIRROR", None)
    command = [sys.executable, "-m", "crawler", "eu_funding_tenders", "--mirror", mirror]
    for setting in ("FOERDERDESK_BACKOFF_BASE=0", "RETRY_TIMES=1", *settings):
        command += ["-s", setting]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_a_crawl_refuses_while_another_process_holds_the_source(
    engine: Engine, session: Session, database_url: str, tmp_path: Path, mirror: str
) -> None:
    lock = LeaseLock(engine, name="crawl:eu_funding_tenders", ttl=timedelta(seconds=60),
                     holder="other-host:777:abcd")  # fmt: skip
    assert lock.try_acquire()
    try:
        process = _start(database_url, tmp_path, mirror)
        _, err = process.communicate(timeout=120)
    finally:
        lock.release()
    assert process.returncode == EXIT_BUSY
    assert "eu_funding_tenders is being crawled by other-host:777 since" in err
    assert "changed nothing" in err and "Traceback" not in err
    for model in (Source, CrawlRun, FundingCall):
        assert session.scalar(select(func.count()).select_from(model)) == 0


def test_two_crawls_of_one_source_started_together_one_runs_the_other_refuses(
    engine: Engine, session: Session, database_url: str, tmp_path: Path, mirror: str
) -> None:
    slow = "DOWNLOAD_DELAY=0.5"  # the first crawl lasts a few seconds: the second overlaps it
    first = _start(database_url, tmp_path, mirror, slow)
    time.sleep(1.0)
    second = _start(database_url, tmp_path, mirror, slow)
    _, second_err = second.communicate(timeout=120)
    first.communicate(timeout=120)
    assert (first.returncode, second.returncode) == (0, EXIT_BUSY), second_err
    (run,) = session.scalars(select(CrawlRun))
    assert run.outcome == "succeeded" and run.errors == 0  # nothing partial because of the other
    assert session.scalar(select(func.count(FundingCall.id))) == ALL_IDS
    # Free again once the first ended: the next crawl runs.
    third = _start(database_url, tmp_path, mirror)
    third.communicate(timeout=120)
    assert third.returncode == 0
