"""Fixtures for the web app: a fresh app on the test's own database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from storage.config import Settings
from storage.models import User
from tests.webui.logins import add_user, login
from webui import create_app

TRANSLATIONS = Path(__file__).parents[2] / "webui" / "translations"


@pytest.fixture
def app(settings: Settings, engine: Engine) -> Iterator[Flask]:
    """The app, on the same database as ``session`` (tables created by ``engine``)."""
    application = create_app(settings, test_config={"TESTING": True})
    yield application
    application.extensions["foerderdesk.engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(autouse=True, scope="session")
def compiled_catalogs() -> None:
    """Compile a translation whose text is newer than its compiled file (``make`` does this
    too; a direct ``pytest`` run should not test stale German)."""
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as source:
                catalog = read_po(source)
            with mo.open("wb") as target:
                write_mo(target, catalog)


@pytest.fixture
def admin(client: FlaskClient, session: Session) -> User:
    """An administrator, signed in on ``client``, reading English."""
    user = add_user(session, "admin@example.org", "admin", name="Ada Admin")
    assert login(client, "admin@example.org").status_code == 302
    client.set_cookie("lang", "en")
    return user
