"""`foerderdesk demo`: the offline demo must keep working, end to end, with the real parts."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from scheduler.demo import crawl_summary, ensure_port_free, match_summary
from storage.cli import main
from storage.db import standalone_session
from storage.models import CrawlRun, FundingCall, Match, MatchRun, Profile, Source, User

LOGIN = re.compile(r"\(desk login: (\S+) / (\S+)\)$")


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port on loopback that a listening socket of this test holds."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_demo_refuses_a_taken_port_before_any_work(tmp_path: Path, taken_port: int) -> None:
    instance = tmp_path / "instance"
    database = tmp_path / "demo.sqlite3"
    result = CliRunner().invoke(
        main,
        ["--instance", str(instance), "--database-url", f"sqlite:///{database}",
         "demo", "--port", str(taken_port)],
    )  # fmt: skip
    assert result.exit_code != 0
    assert f"port {taken_port} is already in use" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""  # not one step started
    assert not database.exists()
    assert not (instance / "logs").exists()
    assert not (instance / "demo_login").exists()


def test_a_free_port_passes_the_check_and_stays_free(taken_port: int) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    ensure_port_free("127.0.0.1", port)
    ensure_port_free("127.0.0.1", port)  # the check itself holds nothing


def test_crawl_and_match_summaries_are_one_readable_line() -> None:
    source = Source(slug="eu_funding_tenders", name="EU", spider="eu_funding_tenders")
    ok = CrawlRun(source=source, outcome="succeeded", calls_new=612, calls_updated=0,
                  calls_withdrawn=0, dropped={"no_deadline": 2, "closed": 1},
                  duration_seconds=12.3)  # fmt: skip
    assert (
        " ".join(crawl_summary(ok).split())
        == "eu_funding_tenders: 612 new, 0 updated, 3 dropped (12 s)"
    )
    failed = CrawlRun(source=source, outcome="failed", reason="HTTP 503 on the first page",
                      dropped={}, duration_seconds=1.24)  # fmt: skip
    line = crawl_summary(failed)
    assert "FAILED" in line and "HTTP 503 on the first page" in line and "(1.2 s)" in line
    assert "\n" not in line

    run = MatchRun(outcome="succeeded", profiles_count=23, calls_count=274, matches_count=115,
                   duration_seconds=0.77)  # fmt: skip
    assert (
        match_summary(run).strip() == "115 matches for 23 profiles from 274 rankable calls (0.8 s)"
    )
    broken = MatchRun(outcome="failed", parameters={"error": "boom"})
    assert "FAILED" in match_summary(broken) and "boom" in match_summary(broken)
    assert "did not run" in match_summary(None)


@pytest.mark.slow
def test_demo_prepares_calls_matches_and_a_desk_login(database_url: str, tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    command = [sys.executable, "-m", "storage.cli", "--instance", str(instance),
               "--database-url", database_url, "demo", "--no-serve"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]

    # The terminal shows steps and one line per source; Scrapy's and the matcher's logs go
    # to the instance folder, and the address/login line comes last.
    lines = result.stdout.splitlines()
    assert result.stderr == ""
    assert sum(str(instance / "logs" / "demo.log") in line for line in lines) == 1
    assert not any("[scrapy" in line or "match run" in line for line in lines)
    assert re.search(r"^    eu_funding_tenders: +629 new, 0 updated, 0 dropped \(", result.stdout,
                     re.MULTILINE)  # fmt: skip
    log = (instance / "logs" / "demo.log").read_text()
    assert "[scrapy.core.engine]" in log and "match run" in log
    assert lines[-1].startswith("ready: ")
    login = LOGIN.search(lines[-1])
    assert login, lines[-1]
    email, password = login.groups()
    assert password == (instance / "demo_login").read_text().strip()

    with standalone_session(database_url) as session:
        outcomes = dict(session.execute(select(CrawlRun.source_id, CrawlRun.outcome)).all())
        assert outcomes and set(outcomes.values()) == {"succeeded"}
        assert sum(" dropped (" in line for line in lines) == len(outcomes)  # one line a source
        eu_calls = session.scalar(
            select(func.count(FundingCall.id)).where(FundingCall.source == "eu_funding_tenders")
        )
        assert eu_calls == 629
        assert session.scalar(select(func.count(Profile.id))) >= 20
        assert session.scalar(select(func.count(Match.id))) > 0
        user = session.scalars(select(User).where(User.email == email)).one()
        assert user.role == "desk"
        assert check_password_hash(user.password_hash, password)

    # A second run keeps the data and the login working (no duplicates, same password).
    again = subprocess.run([*command, "--no-crawl"], capture_output=True, text=True,
                           timeout=600, check=False)  # fmt: skip
    assert again.returncode == 0, again.stderr[-4000:]
    assert f"{email} / {password}" in again.stdout.splitlines()[-1]
