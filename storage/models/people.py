"""People who log in (and their API tokens), subscriptions and the mail outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import (
    FREQUENCIES,
    NOTIFICATION_KINDS,
    NOTIFICATION_STATES,
    SUBSCRIPTION_KINDS,
    USER_ROLES,
    Base,
    one_of,
    utcnow,
)


# --- people and mail ----------------------------------------------------------------------
class User(Base):
    """A person who logs in: service desk, city staff or administrator."""

    __tablename__ = "users"
    __table_args__ = (one_of("role", USER_ROLES, "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(16), default="staff")
    department: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(8), default="de")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # The dashboard's "new since my last visit": the visit before the current one.
    last_visit_at: Mapped[datetime | None]
    previous_visit_at: Mapped[datetime | None]
    # SHA-256 of the secret in the personal calendar feed's address (revocable; None: no feed).
    calendar_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Copied into the session cookie at login; raising it (logout, new password, new role,
    # deactivation) ends every session of the user at once, since the cookie is all we have.
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class ApiToken(Base):
    """A token for the desk API (``Authorization: Bearer``); only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class Subscription(Base):
    """Someone who wants email: matches of a profile, a saved search, or one followed call.

    It sends nothing until ``confirmed_at`` is set (double opt-in) and nothing after
    ``unsubscribed_at``.
    """

    __tablename__ = "subscriptions"
    __table_args__ = (
        one_of("kind", SUBSCRIPTION_KINDS, "kind"),
        one_of("frequency", FREQUENCIES, "frequency"),
        # Never reuse a deleted subscription's id on SQLite: an old signed link names it.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))
    profile_id: Mapped[int | None] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("funding_calls.id", ondelete="CASCADE"))
    query: Mapped[dict[str, Any]] = mapped_column(default=dict)  # saved search parameters
    frequency: Mapped[str] = mapped_column(String(16), default="weekly")
    language: Mapped[str] = mapped_column(String(8), default="de")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    last_sent_at: Mapped[datetime | None]


class Notification(Base):
    """One message, written here before it is sent, so that it goes out exactly once."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("subscription_id", "kind", "period"),
        one_of("kind", NOTIFICATION_KINDS, "kind"),
        one_of("state", NOTIFICATION_STATES, "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    period: Mapped[str] = mapped_column(String(64))  # "2026-W47", "2026-11-21", "call 12 change 7"
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(500))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # A deferred message waits until then (back-off after a temporary failure).
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    # The one-click unsubscribe address for the List-Unsubscribe header (RFC 8058).
    unsubscribe_url: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    subscription: Mapped[Subscription] = relationship()


class SubscriptionCall(Base):
    """A call a subscription has sent (never again) or its subscriber dismissed ("not
    relevant for me": never shown to them again)."""

    __tablename__ = "subscription_calls"
    __table_args__ = (UniqueConstraint("subscription_id", "call_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    call_id: Mapped[int] = mapped_column(
        ForeignKey("funding_calls.id", ondelete="CASCADE"), index=True
    )
    notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="SET NULL")
    )
    sent_at: Mapped[datetime | None]
    dismissed_at: Mapped[datetime | None]


class SuppressedAddress(Base):
    """An address that refused mail for good (5xx, several times): nothing more goes to it."""

    __tablename__ = "suppressed_addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # lower case
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
