"""Fixtures shared by every test package.

Every test gets an empty database of its own: a SQLite file under ``tmp_path``, or, when
``FOERDERDESK_TEST_DATABASE_URL`` names a PostgreSQL server, a schema of its own on it (the
URL carries the schema in ``search_path``, so subprocesses and Alembic see the same one).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from storage.config import Settings, load_settings
from storage.db import make_engine, make_session_factory
from storage.models import Base

TEST_DATA = Path(__file__).parent / "data"
PG_URL = os.environ.get("FOERDERDESK_TEST_DATABASE_URL", "")


def pytest_report_header(config: pytest.Config) -> str:
    return f"foerderdesk database: {make_url(PG_URL).render_as_string() if PG_URL else 'SQLite'}"


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database for this test alone."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the test database, with every table created from the models."""
    eng = make_engine(database_url)
    Base.metadata.create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the test database; the test decides when to commit."""
    factory = make_session_factory(engine)
    with factory() as sess:
        yield sess
        sess.rollback()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings for this test: its own instance folder and database, nothing from the shell."""
    return load_settings(
        environ={},
        instance_path=tmp_path / "instance",
        database_url=database_url,
        secret_key="test-secret-key-not-for-production",
    )
