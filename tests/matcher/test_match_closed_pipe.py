"""`foerderdesk match | head -1`: a reader that goes away early must not undo the stored run."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Match, MatchRun
from tests.storage.factories import make_call, make_profile

PROFILES = 120  # one summary line each: far more than the pipe below holds
PIPE_SIZE = 4096
CLIMATE = (
    "Local authorities cut greenhouse gas emissions of public buildings through energy "
    "efficiency, renovation and climate neutrality plans."
)
FOERDERDESK = Path(sys.executable).with_name("foerderdesk")  # the console script


def _seed(session: Session) -> None:
    due = datetime.now(UTC) + timedelta(days=200)
    make_call(
        session,
        title="Climate mitigation in the public buildings of cities and municipalities",
        description_text=CLIMATE,
        deadlines=[due],
        eligible_applicants=["municipality"],
    )
    for n in range(PROFILES):
        make_profile(
            session,
            f"klimaschutz-oeffentlicher-gebaeude-{n:03d}",
            description=f"Climate neutrality plan {n}: energy efficiency of public buildings.",
            themes=["climate"],
        )
    session.commit()


def _command(launcher: list[str], database_url: str, tmp_path: Path) -> list[str]:
    return [
        *launcher,
        "--instance",
        str(tmp_path / "instance"),
        "--database-url",
        database_url,
        "match",
    ]


def _env() -> dict[str, str]:
    # Nothing from the shell's FOERDERDESK_* settings; the command line says it all.
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def _read_line(fd: int) -> bytes:
    """One line, a byte at a time, so that no more than that is taken out of the pipe."""
    line = b""
    while not line.endswith(b"\n"):
        byte = os.read(fd, 1)
        if not byte:
            break
        line += byte
    return line


@pytest.mark.parametrize(
    "launcher",
    [[str(FOERDERDESK)], [sys.executable, "-m", "storage.cli"]],
    ids=["console-script", "python-m"],
)
def test_a_closed_pipe_keeps_the_stored_run_and_exits_quietly(
    session: Session, database_url: str, tmp_path: Path, launcher: list[str]
) -> None:
    _seed(session)
    command = _command(launcher, database_url, tmp_path)

    # Read to the end first: the command prints well beyond what the pipe holds after
    # its first line, so closing the pipe then cannot pass unnoticed.
    whole = subprocess.run(command, capture_output=True, env=_env(), timeout=300, check=False)
    assert whole.returncode == 0, whole.stderr.decode()[-3000:]
    lines = whole.stdout.decode().splitlines()
    assert len(lines) == 1 + PROFILES
    assert "succeeded" in lines[0]
    assert len(whole.stdout) - len(lines[0]) - 1 > 2 * PIPE_SIZE

    read_end, write_end = os.pipe()
    try:
        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        assert fcntl.fcntl(write_end, fcntl.F_GETPIPE_SZ) == PIPE_SIZE
        process = subprocess.Popen(command, stdout=write_end, stderr=subprocess.PIPE, env=_env())
        os.close(write_end)
        write_end = -1
        first = _read_line(read_end)
        os.close(read_end)  # the reader goes away, as `head -1` does
        read_end = -1
        _, err = process.communicate(timeout=300)
    finally:
        for fd in (read_end, write_end):
            if fd != -1:
                os.close(fd)

    stderr = err.decode()
    assert first.startswith(b"match run ") and b"succeeded" in first
    assert process.returncode == 141, stderr[-3000:]
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr
    assert "Exception ignored" not in stderr

    session.expire_all()
    runs = session.scalars(select(MatchRun).order_by(MatchRun.id)).all()
    assert [r.outcome for r in runs] == ["succeeded", "succeeded"]  # both runs stored
    newest = runs[-1]
    assert f"match run {newest.id}:".encode() in first
    assert newest.matches_count == PROFILES
    stored = session.scalar(select(func.count(Match.id)).where(Match.match_run_id == newest.id))
    assert stored == PROFILES
