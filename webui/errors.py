"""Error pages a person can read, and JSON errors for the API."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from werkzeug.exceptions import HTTPException, InternalServerError, TooManyRequests

from webui.limits import seconds_until_retry

# What each error means to a visitor, and what they can do about it.
MESSAGES = {
    400: (_l("Bad request"), _l("The request contained details we do not understand.")),
    403: (_l("No access"), _l("This page is not open to your role.")),
    404: (_l("Page not found"), _l("This page does not exist (any more). The search may help.")),
    405: (_l("Not allowed"), _l("This page cannot be called this way.")),
    429: (_l("Too many requests"), _l("Please wait a moment and try again.")),
    500: (_l("Internal error"), _l("Something went wrong. The error has been logged.")),
}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def handle_http_error(error: HTTPException):  # type: ignore[no-untyped-def]
    code = error.code or 500
    if _wants_json():
        return jsonify({"error": error.name, "message": error.description}), code
    title, text = MESSAGES.get(code, (error.name, error.description or ""))
    if error.description and error.description != type(error).description:
        text = error.description  # a route's own message says more than the general one
    return render_template("errors/error.html", code=code, title=title, text=text), code


def wait_message(seconds: int) -> str:
    """How long to wait, in the reader's language: seconds under two minutes, else whole
    minutes (rounded: the limit's reset time carries a second of rounding, and "16 minutes"
    for a 15-minute lock would read as a different rule)."""
    if seconds < 120:
        return ngettext("Please wait %(num)d second and try again.",
                        "Please wait %(num)d seconds and try again.", seconds)  # fmt: skip
    minutes = round(seconds / 60)
    return ngettext("Please wait %(num)d minute and try again.",
                    "Please wait %(num)d minutes and try again.", minutes)  # fmt: skip


def handle_too_many_requests(error: TooManyRequests):  # type: ignore[no-untyped-def]
    """A breached rate limit: how long to wait, on the page and in ``Retry-After``.

    Flask-Limiter's own description is the limit in English ("10 per 1 minute"), which tells
    a person neither what happened nor when to try again."""
    seconds = seconds_until_retry()
    if seconds is None:
        return handle_http_error(error)
    text = wait_message(seconds)
    if _wants_json():
        response = jsonify({"error": error.name, "message": text})
    else:
        response = render_template("errors/error.html", code=429, title=MESSAGES[429][0],
                                   text=text)  # fmt: skip
    return response, 429, {"Retry-After": str(seconds)}


def handle_unexpected(error: Exception):  # type: ignore[no-untyped-def]
    return handle_http_error(InternalServerError(original_exception=error))


def register_error_handlers(app: Flask) -> None:
    """Every HTTP error as a page (or JSON under ``/api/``); other exceptions as a 500."""
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(TooManyRequests, handle_too_many_requests)
    if not app.testing:
        app.register_error_handler(Exception, handle_unexpected)
