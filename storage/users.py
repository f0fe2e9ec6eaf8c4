"""People who log in and their API tokens: create, change role or password, deactivate,
list; tokens created, revoked and looked up; every session of a user ended.

Rules live here so that the admin pages and the command line agree: an email is unique
without regard to case, a role is one of ``USER_ROLES``, an administrator cannot demote or
deactivate themself (so an installation always keeps one), and a deactivated person's API
tokens stop working with their login. A new role, a new password or (de)activation ends
every session of the user (``end_sessions``). Only the SHA-256 of a token is stored; the secret is
shown once, when it is made. Functions take the session and never commit.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.models import USER_ROLES, ApiToken, User, utcnow
from storage.queries import user_by_email

# How often a token's ``last_used_at`` is written: enough to tell a used token from a
# forgotten one, without a write on every API request.
LAST_USED_PRECISION = timedelta(minutes=1)
# ``secrets.token_urlsafe(32)`` gives 43 characters; anything much longer is not a token.
MAX_TOKEN_LENGTH = 200
MAX_EMAIL_LENGTH = 320
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


class UserError(ValueError):
    """A change to a user that is refused; the message says why, ``reason`` names the rule
    (``bad_email``, ``email_taken``, ``unknown_role``, ``own_role``, ``own_account``,
    ``inactive``) for callers that explain it in the reader's language."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def _check_role(role: str) -> None:
    if role not in USER_ROLES:
        raise UserError(
            f"unknown role {role!r}; use one of {', '.join(USER_ROLES)}", "unknown_role"
        )


def create_user(
    session: Session,
    email: str,
    *,
    password_hash: str,
    role: str = "staff",
    name: str = "",
    department: str = "",
) -> User:
    """Add an active user; refuses an email that is taken (in any case) or an unknown role."""
    email = email.strip()
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email):
        raise UserError(f"{email!r} is not an email address", "bad_email")
    _check_role(role)
    if user_by_email(session, email) is not None:
        raise UserError(f"a user with email {email} exists already", "email_taken")
    user = User(
        email=email,
        name=name.strip(),
        role=role,
        department=department.strip(),
        password_hash=password_hash,
        active=True,
    )
    session.add(user)
    session.flush()
    return user


def set_role(session: Session, user: User, role: str, *, actor: User | None = None) -> bool:
    """Give ``user`` the ``role``; whether it changed. An admin cannot demote themself."""
    _check_role(role)
    if role == user.role:
        return False
    if actor is not None and actor.id == user.id:
        raise UserError("you cannot change your own role", "own_role")
    user.role = role
    end_sessions(session, user)  # a session must not keep the rights of the old role
    return True


def set_active(session: Session, user: User, active: bool, *, actor: User | None = None) -> bool:
    """Deactivate or reactivate ``user``; whether it changed.

    A deactivated user can no longer sign in and their API tokens are revoked (reactivating
    does not bring those back: a new token is made when needed). Nobody deactivates themself.
    """
    if active == user.active:
        return False
    if not active and actor is not None and actor.id == user.id:
        raise UserError("you cannot deactivate yourself", "own_account")
    user.active = active
    if not active:
        revoke_api_tokens(session, user)
    # Also on reactivation: a cookie from before the deactivation must not come back to life.
    end_sessions(session, user)
    return True


def set_password(session: Session, user: User, password_hash: str) -> None:
    """Give ``user`` a new password (as its hash) and end their sessions: whoever held a
    session with the old password must sign in with the new one."""
    user.password_hash = password_hash
    end_sessions(session, user)


def end_sessions(session: Session, user: User) -> None:
    """End every session of ``user`` (the login refuses a cookie with an older version).

    Raised in SQL, not in Python, so that two changes at once cannot both write the same
    number and leave a session alive."""
    user.session_version = User.session_version + 1  # type: ignore[assignment]
    session.flush()


def list_users(session: Session) -> list[User]:
    """Every user, active ones first, then by email."""
    return list(session.scalars(select(User).order_by(User.active.desc(), func.lower(User.email))))


def get_user(session: Session, user_id: int) -> User | None:
    """The user with ``user_id``, or None."""
    return session.get(User, user_id)


def token_hash(secret: str) -> str:
    """The SHA-256 (hex) under which a token's secret is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_api_token(session: Session, user: User) -> str:
    """A new API token for ``user``: its secret, returned once and stored only as a hash."""
    if not user.active:
        raise UserError(f"{user.email} is deactivated", "inactive")
    secret = secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=token_hash(secret), created_at=utcnow()))
    session.flush()
    return secret


def revoke_api_tokens(session: Session, user: User) -> int:
    """Revoke every token of ``user`` that still works; how many were revoked."""
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def user_for_token(session: Session, secret: str, *, now: datetime | None = None) -> User | None:
    """The active user whose unrevoked token ``secret`` is, or None; notes when it was used."""
    if not secret or len(secret) > MAX_TOKEN_LENGTH:
        return None
    row = session.execute(
        select(ApiToken, User)
        .join(User, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == token_hash(secret),
            ApiToken.revoked_at.is_(None),
            User.active.is_(True),
        )
    ).first()
    if row is None:
        return None
    token, user = row
    now = now or utcnow()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        token.last_used_at = now
        session.flush()
    return user
