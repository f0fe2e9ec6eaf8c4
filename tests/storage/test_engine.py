"""SQLite's writer lock: a process that reads and then writes while others write (a crawl,
the scheduler) takes the lock when its transaction begins, so it waits instead of failing."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import OperationalError

from storage.db import make_engine, make_session_factory
from storage.models import Base, Source

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'lock.sqlite3'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    return url


def _add_source(engine: Engine, slug: str) -> None:
    with make_session_factory(engine).begin() as session:
        session.add(Source(slug=slug, name=slug, spider=slug))


def _count(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        count = conn.scalar(select(func.count(Source.id)))
    engine.dispose()
    return int(count or 0)


def test_by_default_a_read_then_write_fails_once_another_process_wrote(url: str) -> None:
    # The failure the option exists for: SQLite refuses at once, whatever the busy timeout.
    mine, other = make_engine(url), make_engine(url)
    session = make_session_factory(mine)()
    try:
        session.add(Source(slug="erste", name="erste", spider="x"))
        session.flush()
        session.commit()
        session.scalar(select(func.count(Source.id)))  # a read opens the snapshot (WAL)
        session.connection().exec_driver_sql("SAVEPOINT s")  # as the crawl's savepoints do
        session.scalar(select(func.count(Source.id)))
        _add_source(other, "dazwischen")
        with pytest.raises(OperationalError, match="locked"):
            session.connection().execute(text("UPDATE sources SET name = 'neu'"))
    finally:
        session.close()
        mine.dispose()
        other.dispose()


def test_with_the_write_lock_first_the_other_writer_waits_and_both_writes_land(url: str) -> None:
    mine, other = make_engine(url, write_lock_first=True), make_engine(url)
    session = make_session_factory(mine)()
    done = threading.Event()
    try:
        session.scalar(select(func.count(Source.id)))  # BEGIN IMMEDIATE: the lock is ours
        writer = threading.Thread(target=lambda: (_add_source(other, "dazwischen"), done.set()))
        writer.start()
        assert not done.wait(0.5)  # the other writer waits for our commit
        session.add(Source(slug="meine", name="meine", spider="x"))
        session.commit()
        writer.join(timeout=10)
        assert done.is_set()
    finally:
        session.close()
        mine.dispose()
        other.dispose()
    assert _count(url) == 2


def test_with_the_write_lock_first_a_savepoint_does_not_commit_on_its_own(url: str) -> None:
    # Without it, the driver starts the transaction with the first SAVEPOINT, and its RELEASE
    # commits: the crawl's "one transaction per batch" would be one per call.
    engine = make_engine(url, write_lock_first=True)
    session = make_session_factory(engine)()
    try:
        with session.begin_nested():
            session.add(Source(slug="vielleicht", name="vielleicht", spider="x"))
        session.rollback()
    finally:
        session.close()
        engine.dispose()
    assert _count(url) == 0
