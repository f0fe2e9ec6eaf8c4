"""`foerderdesk users`: create people who log in, change passwords; never echo them."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from storage.cli import main
from storage.models import User


def run(database_url: str, tmp_path: Path, args: list[str], stdin: str = ""):  # type: ignore[no-untyped-def]
    base = ["--instance", str(tmp_path / "instance"), "--database-url", database_url]
    return CliRunner().invoke(main, [*base, *args], input=stdin)


def test_create_user_hashes_the_password(
    database_url: str, engine: Engine, session: Session, tmp_path: Path
) -> None:
    secret = "a long enough password"
    result = run(database_url, tmp_path,
                 ["users", "create", "desk@example.org", "--role", "desk", "--password-stdin"],
                 secret + "\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert secret not in result.output
    user = session.scalars(select(User)).one()
    assert user.role == "desk"
    assert user.password_hash != secret
    assert check_password_hash(user.password_hash, secret)


def test_duplicate_email_and_short_password_are_clear_errors(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    args = ["users", "create", "desk@example.org", "--password-stdin"]
    assert run(database_url, tmp_path, args, "a long enough password\n").exit_code == 0
    again = run(
        database_url,
        tmp_path,
        ["users", "create", "DESK@example.org", "--password-stdin"],
        "another long password\n",
    )
    assert again.exit_code == 1
    assert "exists already" in again.output
    short = run(
        database_url, tmp_path, ["users", "create", "b@example.org", "--password-stdin"], "short\n"
    )
    assert short.exit_code == 1
    assert "at least 12 characters" in short.output


def test_password_change(
    database_url: str, engine: Engine, session: Session, tmp_path: Path
) -> None:
    run(
        database_url,
        tmp_path,
        ["users", "create", "a@example.org", "--password-stdin"],
        "the first password\n",
    )
    result = run(
        database_url,
        tmp_path,
        ["users", "password", "a@example.org", "--password-stdin"],
        "the second password\n",
    )
    assert result.exit_code == 0, result.output
    user = session.scalars(select(User)).one()
    assert check_password_hash(user.password_hash, "the second password")
    missing = run(
        database_url,
        tmp_path,
        ["users", "password", "x@example.org", "--password-stdin"],
        "the second password\n",
    )
    assert missing.exit_code == 1
    assert "no user with email" in missing.output
