"""The request's database session: opened on first use, closed when the request ends."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from storage.config import Settings
from storage.db import make_engine, make_session_factory


def init_app(app: Flask, settings: Settings) -> None:
    """Give ``app`` an engine and a session factory, and close each request's session."""
    engine = make_engine(settings)
    app.extensions["foerderdesk.engine"] = engine
    app.extensions["foerderdesk.sessions"] = make_session_factory(engine)
    app.teardown_appcontext(close_session)


def db_session() -> Session:
    """The session of this request, opened on first use and closed at its end."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["foerderdesk.sessions"]()
    return g.db_session


def close_session(exc: BaseException | None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        if exc is not None:
            session.rollback()
        session.close()
