"""Engine and session factory.

Sessions are opened at the edge (a request, a job, a pipeline) with :func:`session_scope`
and passed in; data functions never open or commit their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from storage.config import Settings


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets the web app read while a crawl writes; busy_timeout waits for the writer.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _no_driver_transactions(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" below says BEGIN itself


def _begin_immediate(connection) -> None:  # type: ignore[no-untyped-def]
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(  # type: ignore[no-untyped-def]
    url: str | Settings, *, write_lock_first: bool = False, **kwargs
) -> Engine:
    """Create an engine for ``url`` (or the settings' database), configured for our use.

    ``write_lock_first`` (SQLite only; PostgreSQL locks rows, not the file) makes every
    transaction take SQLite's writer lock when it begins, waiting for it as long as the busy
    timeout allows. For the processes that write while others write too (a crawl, the
    scheduler): a transaction that read first and then wants to write after another process
    committed would otherwise fail at once with "database is locked", whatever the timeout.
    """
    if isinstance(url, Settings):
        url = url.sqlalchemy_url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            from pathlib import Path

            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        if write_lock_first:
            event.listen(engine, "connect", _no_driver_transactions)
            event.listen(engine, "begin", _begin_immediate)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error, always close."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def standalone_session(url: str | Settings) -> Iterator[Session]:
    """A unit of work with an engine of its own, for commands and jobs that run once:
    commit on success, roll back on error, and always release the engine's connections."""
    engine = make_engine(url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()
