"""Who calls the desk API: the user behind ``Authorization: Bearer <token>``, or a 401.

Tokens come from ``foerderdesk users token EMAIL``; ``storage.users`` keeps only their hash
and refuses revoked tokens and deactivated users. The API never looks at the session cookie,
so a browser's login cannot be borrowed by another site (and its routes need no CSRF token).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, NoReturn, TypeVar

from flask import abort, g, jsonify, request
from flask_babel import gettext as _

from storage.models import User
from storage.users import user_for_token
from webui.db import db_session

F = TypeVar("F", bound=Callable[..., Any])
REALM = "foerderdesk desk API"


def bearer_secret(header: str | None) -> str | None:
    """The token in an ``Authorization`` header (``Bearer <token>``, any case), or None."""
    scheme, _sep, secret = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


def _unauthorized(message: str, *, invalid: bool) -> NoReturn:
    """Stop with 401, a JSON error and the challenge of RFC 6750."""
    challenge = f'Bearer realm="{REALM}"' + (', error="invalid_token"' if invalid else "")
    response = jsonify({"error": "Unauthorized", "message": message})
    response.status_code = 401
    response.headers["WWW-Authenticate"] = challenge
    abort(response)


def token_user() -> User:
    """The active user whose valid token this request carries (else the request ends in 401)."""
    secret = bearer_secret(request.headers.get("Authorization"))
    if secret is None:
        _unauthorized(
            _("Send a token of 'foerderdesk users token' as 'Authorization: Bearer <token>'."),
            invalid=False,
        )
    session = db_session()
    user = user_for_token(session, secret)
    if user is None:
        _unauthorized(_("The token is unknown or revoked, or its user is deactivated."),
                      invalid=True)  # fmt: skip
    session.commit()  # when the token was last used
    return user


def token_required(view: F) -> F:
    """Run ``view`` only for a valid token; its user is ``g.api_user``."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        g.api_user = token_user()
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def api_user() -> User:
    """The user of this API request (set by :func:`token_required`)."""
    return g.api_user  # type: ignore[no-any-return]
