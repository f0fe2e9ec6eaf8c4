"""Fixtures for the web app: a fresh app on the test's own database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from storage.config import Settings
from webui import create_app


@pytest.fixture
def app(settings: Settings, engine: Engine) -> Iterator[Flask]:
    """The app, on the same database as ``session`` (tables created by ``engine``)."""
    application = create_app(settings, test_config={"TESTING": True})
    yield application
    application.extensions["foerderdesk.engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
