"""Configuration precedence: explicit overrides > FOERDERDESK_* environment > defaults."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from storage.config import ConfigError, ensure_instance, load_settings


def test_defaults_give_a_sqlite_file_in_the_instance_folder(tmp_path: Path) -> None:
    settings = load_settings(environ={}, instance_path=tmp_path)
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path / 'foerderdesk.sqlite3'}"
    assert settings.smtp_port == 25
    assert settings.smtp_starttls is False


def test_environment_overrides_defaults_and_is_typed() -> None:
    env = {
        "FOERDERDESK_DATABASE_URL": "postgresql+psycopg://db/fd",
        "FOERDERDESK_SMTP_PORT": "587",
        "FOERDERDESK_SMTP_STARTTLS": "yes",
        "FOERDERDESK_BASE_URL": "https://foerder.example.org",
        "FOERDERDESK_INSTANCE_PATH": "/srv/foerderdesk",
        "UNRELATED": "ignored",
    }
    settings = load_settings(environ=env)
    assert settings.sqlalchemy_url == "postgresql+psycopg://db/fd"
    assert settings.smtp_port == 587
    assert settings.smtp_starttls is True
    assert settings.base_url == "https://foerder.example.org"
    assert settings.instance_path == Path("/srv/foerderdesk")


def test_explicit_overrides_beat_the_environment_but_none_does_not() -> None:
    env = {"FOERDERDESK_SMTP_HOST": "mail.env", "FOERDERDESK_MAIL_FROM": "env@example.org"}
    settings = load_settings(environ=env, smtp_host="mail.cli", mail_from=None)
    assert settings.smtp_host == "mail.cli"
    assert settings.mail_from == "env@example.org"


def test_process_environment_is_read_when_none_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOERDERDESK_CONTACT_EMAIL", "desk@hannover.example")
    assert load_settings().contact_email == "desk@hannover.example"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FOERDERDESK_SMTP_PORT", "smtp", "FOERDERDESK_SMTP_PORT='smtp' is not a whole number"),
        ("FOERDERDESK_SMTP_PORT", "70000", "is not a port number"),
        ("FOERDERDESK_SMTP_STARTTLS", "maybe", "is not a boolean"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ={name: value})


def test_unknown_override_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings(environ={}, smtp_hots="typo")


def test_secret_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = ensure_instance(load_settings(environ={}, instance_path=tmp_path))
    second = ensure_instance(load_settings(environ={}, instance_path=tmp_path))
    assert len(first.secret_key) >= 40
    assert first.secret_key == second.secret_key
    mode = stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode)
    assert mode == 0o600


def test_configured_secret_key_is_used_and_nothing_written(tmp_path: Path) -> None:
    settings = ensure_instance(
        load_settings(environ={"FOERDERDESK_SECRET_KEY": "from-env"}, instance_path=tmp_path)
    )
    assert settings.secret_key == "from-env"
    assert not (tmp_path / "secret_key").exists()


def test_processes_starting_together_agree_on_one_secret_key(tmp_path: Path) -> None:
    # Web workers of a first start, each making the instance folder's key at the same moment.
    script = (
        "import sys; from storage.config import ensure_instance, load_settings; "
        "print(ensure_instance(load_settings(environ={}, instance_path=sys.argv[1])).secret_key)"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(6)
    ]  # fmt: skip
    results = [p.communicate(timeout=60) for p in processes]
    assert all(p.returncode == 0 for p in processes), [err for _, err in results]
    keys = {out.strip() for out, _ in results}
    assert len(keys) == 1 and len(keys.pop()) >= 40
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no drafts left behind
