"""Fixtures for composing and sending mail: the scheduler's catalog compiled, a real SMTP
server on loopback, settings that point at it, and a session factory on the test database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from storage.config import Settings
from storage.db import make_session_factory
from tests.scheduler.smtp_server import Recorder, smtp_server

TRANSLATIONS = Path(__file__).parents[2] / "scheduler" / "translations"
BASE_URL = "https://foerderdesk.example"


@pytest.fixture(autouse=True, scope="session")
def compiled_mail_catalog() -> None:
    """Compile the mail catalog where its text is newer than the compiled file (``make``
    does this too; a direct ``pytest`` run should not test stale German)."""
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as source:
                catalog = read_po(source)
            with mo.open("wb") as target:
                write_mo(target, catalog)


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def smtp() -> Iterator[tuple[Recorder, int]]:
    """A recording SMTP server on loopback and its port."""
    with smtp_server() as running:
        yield running


@pytest.fixture
def mail_settings(settings: Settings, smtp: tuple[Recorder, int]) -> Settings:
    """The test's settings, sending to the loopback server, links to an example site."""
    return replace(
        settings,
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        smtp_timeout=5.0,
        base_url=BASE_URL,
        mail_from="foerderdesk@hannover.example",
    )
