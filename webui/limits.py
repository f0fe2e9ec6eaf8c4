"""Login rate limits: how often one address, and one account, may fail to sign in.

Flask-Limiter counts in the store named by ``FOERDERDESK_RATELIMIT_STORAGE_URL`` (in memory
by default, which suits waitress's single process). Only failed sign-ins are counted, so a
person who types their password right is never slowed down by their own logins, and the
failures on one account never lock another. Breaching a limit answers 429 with the error page,
which says how long to wait (and sends it as ``Retry-After``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from storage.config import Settings

# Guessing from one address, and guessing one person's password from many addresses.
LOGIN_PER_ADDRESS = "10 per minute"
LOGIN_PER_ACCOUNT = "5 per 15 minutes"

F = TypeVar("F", bound=Callable[..., Any])

# The moving window counts exactly the failures of the last minute (or 15 minutes), where a
# fixed window would allow twice as many around a window's boundary.
limiter = Limiter(key_func=get_remote_address, strategy="moving-window", headers_enabled=True)


def record_failed_login() -> None:
    """Count this request against the login limits (called when a sign-in fails)."""
    g.login_failed = True


def _failed(response: Response) -> bool:
    return bool(g.get("login_failed", False))


def submitted_account() -> str:
    """The account a sign-in is for: a hash of the submitted email, so that the store never
    holds addresses and any length of input makes a short key."""
    email = request.form.get("email", "").strip().lower()
    return "account:" + hashlib.sha256(email.encode("utf-8")).hexdigest()


def login_limits(view: F) -> F:
    """Both login limits on ``view``'s POST requests, counting failed sign-ins only."""
    per_account = limiter.limit(
        LOGIN_PER_ACCOUNT, key_func=submitted_account, methods=["POST"], deduct_when=_failed
    )
    per_address = limiter.limit(LOGIN_PER_ADDRESS, methods=["POST"], deduct_when=_failed)
    return per_address(per_account(view))  # type: ignore[return-value]


def seconds_until_retry() -> int | None:
    """How many seconds until the limit this request breached lets it through again (as
    Flask-Limiter's ``Retry-After`` counts them); None when no limit was breached."""
    breached = limiter.current_limit
    if breached is None or not breached.breached:
        return None
    return max(1, int(breached.reset_at - time.time()))


def init_app(app: Flask, settings: Settings) -> None:
    """Count in the configured store; tests may override ``RATELIMIT_*`` in their config."""
    app.config.setdefault("RATELIMIT_STORAGE_URI", settings.ratelimit_storage_url)
    # Flask-Limiter defaults this to its last app's setting: an app that turned the limits
    # off would leave every later app in the process without them.
    app.config.setdefault("RATELIMIT_ENABLED", True)
    limiter.init_app(app)
