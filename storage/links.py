"""Signed links in emails: confirm a subscription, unsubscribe, manage, dismiss a call.

The web app checks them and the mail composer makes them, and the two may not import each
other, so both the signing and the addresses live here. A link carries what it acts on,
signed with the installation's secret key (itsdangerous, HMAC-SHA1 over the payload, one salt
per purpose): nothing is stored per link, a tampered link is refused, and a confirmation link
expires while an unsubscribe link keeps working for as long as the subscription exists.
"""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

# One purpose per kind of link: a token made for one cannot be used for another.
PURPOSES = ("confirm", "unsubscribe", "manage", "dismiss")
CONFIRM_MAX_AGE_SECONDS = 7 * 24 * 3600
MANAGE_MAX_AGE_SECONDS = 90 * 24 * 3600

# The web app's routes for each purpose (webui/subscriptions serves exactly these).
PATHS = {
    "confirm": "/subscriptions/confirm/{token}",
    "unsubscribe": "/subscriptions/unsubscribe/{token}",
    "manage": "/subscriptions/manage/{token}",
    "dismiss": "/subscriptions/dismiss/{token}",
}
CALL_PATH = "/calls/{call_id}"


class BadLink(ValueError):
    """A link that was tampered with, made for another purpose, or has expired."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def _serializer(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown link purpose {purpose!r}")
    if not secret_key:
        raise ValueError("signed links need the installation's secret key")
    return URLSafeTimedSerializer(secret_key, salt=f"foerderdesk-{purpose}")


def sign(secret_key: str, purpose: str, payload: dict[str, Any]) -> str:
    """A URL-safe token carrying ``payload`` for ``purpose``."""
    return _serializer(secret_key, purpose).dumps(payload)


def unsign(secret_key: str, purpose: str, token: str, max_age: int | None = None) -> dict[str, Any]:
    """The payload of a token made by :func:`sign` for ``purpose``; raises :class:`BadLink`."""
    if max_age is None:
        max_age = {"confirm": CONFIRM_MAX_AGE_SECONDS, "manage": MANAGE_MAX_AGE_SECONDS}.get(
            purpose
        )
    try:
        payload = _serializer(secret_key, purpose).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise BadLink("this link has expired", expired=True) from exc
    except BadSignature as exc:
        raise BadLink("this link is not valid") from exc
    if not isinstance(payload, dict):
        raise BadLink("this link is not valid")
    return payload


def link(base_url: str, secret_key: str, purpose: str, payload: dict[str, Any]) -> str:
    """The absolute address of a signed link, e.g. the unsubscribe link of a mail."""
    token = sign(secret_key, purpose, payload)
    return base_url.rstrip("/") + PATHS[purpose].format(token=token)


def call_url(base_url: str, call_id: int) -> str:
    """The absolute address of a call's public page."""
    return base_url.rstrip("/") + CALL_PATH.format(call_id=call_id)
