"""The signed links of the mails, read for the pages, and made for the pages' own buttons.

A link names its subscription by id. SQLite hands the id of a deleted last row to the next
new one, so a link is also refused when it was signed before its subscription was created:
an erased subscriber's old links then cannot confirm, unsubscribe or dismiss for a stranger
who happens to get the same id.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app, request
from itsdangerous.encoding import base64_decode, bytes_to_int

from storage.links import PATHS, BadLink, sign, unsign
from storage.models import Subscription

# Token timestamps are whole seconds; a row's creation time is not.
CLOCK_SLACK = timedelta(seconds=1)


def _secret() -> str:
    # The installation's key (the app's SECRET_KEY is the same); the scheduler signs with it.
    return str(current_app.config["FOERDERDESK"].secret_key)


def read(purpose: str, token: str) -> dict[str, Any]:
    """The payload of a link for ``purpose``; raises ``BadLink`` (``.expired`` when old)."""
    return unsign(_secret(), purpose, token)


def subscription_id(payload: dict[str, Any], key: str = "s") -> int:
    """The whole number under ``key`` of a link's payload; raises ``BadLink`` otherwise."""
    value = payload.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadLink("this link is not valid")
    return value


def signed_at(token: str) -> datetime:
    """When a token (already checked by :func:`read`) was signed.

    itsdangerous writes ``payload.timestamp.signature``; the timestamp is base64 of whole
    seconds since the epoch.
    """
    try:
        stamp = token.rsplit(".", 2)[-2]
        return datetime.fromtimestamp(bytes_to_int(base64_decode(stamp)), UTC)
    except (IndexError, ValueError) as exc:
        raise BadLink("this link is not valid") from exc


def made_for(subscription: Subscription, token: str) -> bool:
    """Whether ``token`` was signed after ``subscription`` was created (see the module)."""
    created = subscription.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return signed_at(token) >= created - CLOCK_SLACK


def path(purpose: str, payload: dict[str, Any]) -> str:
    """The site-relative address of a new signed link (for buttons and links on pages)."""
    return request.script_root + PATHS[purpose].format(token=sign(_secret(), purpose, payload))


def manage_path(email: str) -> str:
    """The page where ``email`` sees and deletes its subscriptions."""
    return path("manage", {"e": email})
