"""`foerderdesk users token` and `users list`: a token printed once as the last line and stored
hashed, revoked on request, and the list of everyone who signs in."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from storage.cli import main
from storage.models import ApiToken
from storage.users import token_hash, user_for_token
from tests.webui.logins import add_user


def run(database_url: str, tmp_path: Path, args: list[str]) -> Result:
    base = ["--instance", str(tmp_path / "instance"), "--database-url", database_url]
    return CliRunner().invoke(main, [*base, *args])


def test_token_is_the_last_line_and_only_its_hash_is_stored(
    database_url: str, engine: Engine, session: Session, tmp_path: Path
) -> None:
    user = add_user(session, "desk@example.org", "desk")
    result = run(database_url, tmp_path, ["users", "token", "DESK@example.org"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    secret = lines[-1]
    assert len(lines) == 2 and "only this once" in lines[0]
    assert len(secret) >= 40 and " " not in secret
    stored = session.scalars(select(ApiToken)).one()
    assert stored.token_hash == token_hash(secret)
    assert stored.user_id == user.id and stored.revoked_at is None
    assert user_for_token(session, secret).id == user.id  # type: ignore[union-attr]


def test_revoke_revokes_every_token_and_says_how_many(
    database_url: str, engine: Engine, session: Session, tmp_path: Path
) -> None:
    add_user(session, "desk@example.org", "desk")
    secrets = [
        run(database_url, tmp_path, ["users", "token", "desk@example.org"]).output.split()[-1]
        for _ in range(2)
    ]
    result = run(database_url, tmp_path, ["users", "token", "desk@example.org", "--revoke"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "revoked 2 API token(s) of desk@example.org"
    session.expire_all()
    assert all(user_for_token(session, secret) is None for secret in secrets)
    again = run(database_url, tmp_path, ["users", "token", "desk@example.org", "--revoke"])
    assert "revoked 0 API token(s)" in again.output


def test_unknown_or_deactivated_user_is_a_clear_error(
    database_url: str, engine: Engine, session: Session, tmp_path: Path
) -> None:
    for args in (["nobody@example.org"], ["nobody@example.org", "--revoke"]):
        result = run(database_url, tmp_path, ["users", "token", *args])
        assert result.exit_code == 1
        assert "no user with email nobody@example.org" in result.output
    user = add_user(session, "gone@example.org", "desk")
    user.active = False
    session.commit()
    result = run(database_url, tmp_path, ["users", "token", "gone@example.org"])
    assert result.exit_code == 1
    assert "deactivated" in result.output
    assert session.scalars(select(ApiToken)).first() is None


def test_list_shows_every_user_with_role_department_state_and_last_login(
    database_url: str, engine: Engine, session: Session, tmp_path: Path
) -> None:
    add_user(session, "desk@example.org", "desk")
    staff = add_user(session, "staff@example.org", "staff", department="Fachbereich Umwelt")
    staff.last_login_at = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)
    gone = add_user(session, "gone@example.org", "admin")
    gone.active = False
    session.commit()
    result = run(database_url, tmp_path, ["users", "list"])
    assert result.exit_code == 0, result.output
    header, *rows = result.output.strip().splitlines()
    assert header.split() == ["EMAIL", "ROLE", "DEPARTMENT", "ACTIVE", "LAST", "LOGIN"]
    assert [row.split()[0] for row in rows] == [
        "desk@example.org", "staff@example.org", "gone@example.org",
    ]  # fmt: skip
    assert rows[0].split()[1:] == ["desk", "-", "yes", "never"]
    assert rows[1].split()[1:] == ["staff", "Fachbereich", "Umwelt", "yes", "2026-03-02", "08:15",
                                   "UTC"]  # fmt: skip
    assert rows[2].split()[1:] == ["admin", "-", "no", "never"]


def test_users_help_lists_the_new_commands(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    result = run(database_url, tmp_path, ["users", "--help"])
    assert result.exit_code == 0
    assert "token" in result.output and "list" in result.output
