"""Error pages a person can read, and JSON errors for the API."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

# What each error means to a visitor, and what they can do about it.
MESSAGES = {
    400: ("Ungültige Anfrage", "Die Anfrage enthielt Angaben, die wir nicht verstehen."),
    403: ("Kein Zugriff", "Diese Seite ist für Ihre Rolle nicht freigegeben."),
    404: ("Seite nicht gefunden", "Diese Seite gibt es nicht (mehr). Vielleicht hilft die Suche."),
    405: ("Nicht erlaubt", "Diese Seite kann so nicht aufgerufen werden."),
    429: ("Zu viele Anfragen", "Bitte warten Sie einen Moment und versuchen Sie es noch einmal."),
    500: ("Interner Fehler", "Etwas ist schiefgegangen. Der Fehler wurde protokolliert."),
}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def handle_http_error(error: HTTPException):  # type: ignore[no-untyped-def]
    code = error.code or 500
    if _wants_json():
        return jsonify({"error": error.name, "message": error.description}), code
    title, text = MESSAGES.get(code, (error.name, error.description or ""))
    return render_template("errors/error.html", code=code, title=title, text=text), code


def handle_unexpected(error: Exception):  # type: ignore[no-untyped-def]
    return handle_http_error(InternalServerError(original_exception=error))


def register_error_handlers(app: Flask) -> None:
    """Every HTTP error as a page (or JSON under ``/api/``); other exceptions as a 500."""
    app.register_error_handler(HTTPException, handle_http_error)
    if not app.testing:
        app.register_error_handler(Exception, handle_unexpected)
