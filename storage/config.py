"""Configuration, read once, in one place.

Precedence (highest first): explicit overrides passed by the caller (tests, the CLI's
options) > ``FOERDERDESK_*`` environment variables > defaults for a laptop.
Nothing else in the code base reads the environment.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

PREFIX = "FOERDERDESK_"


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Every setting of foerderdesk. Build it with :func:`load_settings`."""

    instance_path: Path = field(default_factory=lambda: Path.cwd() / "instance")
    database_url: str = ""  # empty: SQLite file in the instance folder
    secret_key: str = ""  # empty: generated once and kept in the instance folder
    base_url: str = "http://127.0.0.1:5000"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_timeout: float = 30.0
    mail_from: str = "foerderdesk@localhost"
    contact_email: str = "foerderdesk@localhost"
    crawl_mirror: str = ""
    sources_file: str = ""  # empty: the sources file shipped with the crawler
    freedict_path: str = "/usr/share/dictd/freedict-deu-eng"
    timezone: str = "Europe/Berlin"
    log_level: str = "INFO"
    # Where login rate limits are counted: one process can count in memory; several
    # (waitress behind a balancer, more than one host) need a shared store, e.g. redis://host.
    ratelimit_storage_url: str = "memory://"
    session_lifetime_hours: float = 8.0  # a signed-in session ends after this long unused
    # The scheduler: how often it looks for queued work and crawls that changed calls, how
    # long a crawl may take before it is killed, and how long old runs and sent mail are kept.
    scheduler_poll_seconds: float = 20.0
    crawl_timeout_seconds: float = 3600.0
    retention_days: int = 180

    @property
    def matcher_path(self) -> Path:
        """Where the matcher keeps the dictionary's parsed index between processes."""
        return self.instance_path / "matcher"

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL, with the SQLite default resolved to a file in the instance folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.instance_path / 'foerderdesk.sqlite3'}"


def _coerce(name: str, raw: str, target: Any) -> Any:
    env_name = PREFIX + name.upper()
    if target is bool:
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"{env_name}={raw!r} is not a boolean (use true or false)")
    if target is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{env_name}={raw!r} is not a whole number") from None
    if target is float:
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{env_name}={raw!r} is not a number") from None
    if target is Path:
        return Path(raw).expanduser()
    return raw


_TYPES: dict[str, type] = {
    "instance_path": Path,
    "smtp_port": int,
    "smtp_starttls": bool,
    "smtp_timeout": float,
    "session_lifetime_hours": float,
    "scheduler_poll_seconds": float,
    "crawl_timeout_seconds": float,
    "retention_days": int,
}


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build the settings from defaults, then the environment, then ``overrides``."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    known = {f.name for f in fields(Settings)}
    for name in known:
        raw = env.get(PREFIX + name.upper())
        if raw is not None:
            values[name] = _coerce(name, raw, _TYPES.get(name, str))
    unknown = set(overrides) - known
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    for name, value in overrides.items():
        if value is not None:
            values[name] = Path(value) if name == "instance_path" else value
    settings = Settings(**values)
    if not 0 < settings.smtp_port < 65536:
        raise ConfigError(f"{PREFIX}SMTP_PORT={settings.smtp_port} is not a port number")
    if not settings.session_lifetime_hours > 0:
        raise ConfigError(
            f"{PREFIX}SESSION_LIFETIME_HOURS={settings.session_lifetime_hours} is not positive"
        )
    return settings


def ensure_instance(settings: Settings) -> Settings:
    """Create the instance folder and fill in a persistent secret key if none is configured.

    The key is generated once per installation and kept in ``instance/secret_key``
    (mode 0600), so signed links stay valid across restarts and no secret lives in the repo.
    """
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    if settings.secret_key:
        return settings
    key_file = settings.instance_path / "secret_key"
    if not key_file.exists():
        # Written whole under another name, then linked into place: of several processes
        # starting at once (web workers), one key wins and nobody reads a half-written file.
        draft = key_file.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        try:
            os.link(draft, key_file)
        except FileExistsError:
            pass  # another process was first: its key is the installation's
        finally:
            draft.unlink()
    return replace(settings, secret_key=key_file.read_text().strip())
