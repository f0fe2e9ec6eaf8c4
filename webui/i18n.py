"""The reader's language: German by default, English one click away.

The choice is remembered in a cookie; without one, the browser's ``Accept-Language`` is the
first guess. Message ids are English; ``webui/translations/de`` holds the German.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, redirect, request
from flask_babel import Babel, get_locale

from webui.redirects import same_site_path

LANGUAGES = ("de", "en")
DEFAULT_LANGUAGE = "de"
COOKIE = "lang"
ONE_YEAR = 365 * 24 * 3600

bp = Blueprint("i18n", __name__)
babel = Babel()


def select_locale() -> str:
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    # Programs calling the API rarely say which language they read: English for them.
    fallback = "en" if request.path.startswith("/api/") else DEFAULT_LANGUAGE
    return request.accept_languages.best_match(LANGUAGES) or fallback


def select_timezone() -> str:
    return current_app.config["FOERDERDESK"].timezone


def current_language() -> str:
    """``"de"`` or ``"en"``: the language this request is answered in."""
    return str(get_locale() or DEFAULT_LANGUAGE)


@bp.get("/language/<code>")
def switch(code: str):  # type: ignore[no-untyped-def]
    """Remember ``code`` as this browser's language and go back to where the reader was."""
    response = redirect(same_site_path(request.args.get("next"), "/"))
    if code in LANGUAGES:
        response.set_cookie(COOKIE, code, max_age=ONE_YEAR, samesite="Lax", httponly=True)
    return response


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.register_blueprint(bp)

    @app.context_processor
    def language() -> dict[str, object]:
        return {"lang": current_language(), "languages": LANGUAGES}
