"""`foerderdesk demo`: the offline demo must keep working, end to end, with the real parts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from storage.db import standalone_session
from storage.models import CrawlRun, FundingCall, Match, Profile, User

pytestmark = pytest.mark.slow


def test_demo_prepares_calls_matches_and_a_desk_login(database_url: str, tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    command = [sys.executable, "-m", "storage.cli", "--instance", str(instance),
               "--database-url", database_url, "demo", "--no-serve"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]

    login_line = next(line for line in result.stdout.splitlines() if "service-desk login" in line)
    email, password = login_line.split(": ", 1)[1].split(" / ")
    assert password == (instance / "demo_login").read_text().strip()

    with standalone_session(database_url) as session:
        outcomes = dict(session.execute(select(CrawlRun.source_id, CrawlRun.outcome)).all())
        assert outcomes and set(outcomes.values()) == {"succeeded"}
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
    assert f"{email} / {password}" in again.stdout
