"""The application factory."""

from __future__ import annotations

from typing import Any

from flask import Flask, g
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import Session

from storage.config import Settings, ensure_instance, load_settings
from storage.db import make_engine, make_session_factory

csrf = CSRFProtect()

# A strict policy: no inline scripts, no third-party origins.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def create_app(
    settings: Settings | None = None, test_config: dict[str, Any] | None = None
) -> Flask:
    """Build the app for ``settings`` (default: from the environment)."""
    settings = ensure_instance(settings or load_settings())
    app = Flask(__name__, instance_path=str(settings.instance_path.resolve()))
    app.config.from_mapping(
        SECRET_KEY=settings.secret_key,
        FOERDERDESK=settings,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the documented field order
    if test_config:
        app.config.update(test_config)

    engine = make_engine(settings)
    app.extensions["foerderdesk.engine"] = engine
    app.extensions["foerderdesk.sessions"] = make_session_factory(engine)
    csrf.init_app(app)

    @app.teardown_appcontext
    def close_session(exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()

    @app.after_request
    def security_headers(response):  # type: ignore[no-untyped-def]
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        if settings.base_url.startswith("https://"):
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        return response

    from webui import api, auth, calls, profiles

    auth.login_manager.init_app(app)
    app.register_blueprint(calls.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(profiles.bp)
    return app


def db_session() -> Session:
    """The session of this request, opened on first use and closed at its end."""
    from flask import current_app

    if "db_session" not in g:
        g.db_session = current_app.extensions["foerderdesk.sessions"]()
    return g.db_session
