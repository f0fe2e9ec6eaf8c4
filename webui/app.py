"""The application factory."""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect

from matcher.runs import default_model_factory
from matcher.search import SearchIndexHolder
from storage.config import Settings, ensure_instance, load_settings
from webui import (
    admin,
    api,
    auth,
    calendar,
    db,
    desk,
    i18n,
    input_guard,
    limits,
    navigation,
    profiles,
    projects,
    search,
    sources,
    subscriptions,
)
from webui.errors import register_error_handlers

csrf = CSRFProtect()

# A strict policy: no inline scripts, no third-party origins.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def _private(path: str, endpoint: str | None) -> bool:
    """Whether a response is for one person only: every API answer, and everything a signed-in
    user gets except static files (the same for everyone)."""
    if path.startswith("/api/"):
        return True
    if endpoint == "static" or (endpoint or "").endswith(".static"):
        return False
    return bool(current_user.is_authenticated)


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

    input_guard.init_app(app)  # before the other hooks: nothing reads bad input
    db.init_app(app, settings)
    csrf.init_app(app)
    limits.init_app(app, settings)
    i18n.init_app(app)
    navigation.init_app(app)
    app.extensions["foerderdesk.search_index"] = SearchIndexHolder(
        default_model_factory(settings.freedict_path, index_folder=settings.matcher_path)
    )
    register_error_handlers(app)

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
        if _private(request.path, request.endpoint):
            # A desk page or API answer must not stay in a shared or back-button cache after
            # sign-out; public pages for anonymous visitors keep their caching.
            response.headers["Cache-Control"] = "no-store"
        return response

    auth.init_app(app)
    app.register_blueprint(search.bp)
    app.register_blueprint(subscriptions.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(profiles.bp)
    app.register_blueprint(desk.bp)
    app.register_blueprint(projects.bp)
    app.register_blueprint(sources.bp)
    app.register_blueprint(calendar.bp)
    return app
