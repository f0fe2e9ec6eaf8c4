"""Logins for the service desk: Flask-Login sessions, hashed passwords, roles.

Hardened against guessing and forgotten sessions: failed sign-ins are rate-limited per address
and per account (``webui.limits``), a session ends ``FOERDERDESK_SESSION_LIFETIME_HOURS`` after
its last request and ``MAX_SESSION_AGE`` after its sign-in however busy, and there is no
"remember me" cookie that would outlive it.

The session lives only in the signed cookie, so the server ends sessions by a version: the
cookie carries the user's ``session_version`` from its sign-in, and the user loader refuses it
once the version has moved on (logout, new password, new role, deactivation: ``storage.users``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length, Regexp

from storage.models import USER_ROLES, User, utcnow
from storage.queries import user_by_email
from storage.users import end_sessions
from webui.db import db_session
from webui.limits import login_limits, record_failed_login
from webui.redirects import same_site_path

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please sign in.")

MIN_PASSWORD_LENGTH = 12
# However active, a session ends this long after its sign-in: a copied cookie kept alive by
# requests must not last for ever. A constant, not a setting: a working day and some.
MAX_SESSION_AGE = timedelta(hours=12)
# Session keys (beside Flask-Login's own): the user's session version and the sign-in time.
SESSION_VERSION_KEY = "_fd_session_version"
SIGNED_IN_AT_KEY = "_fd_signed_in_at"
# Checked against when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password-foerderdesk")

F = TypeVar("F", bound=Callable[..., Any])


class DeskUser(UserMixin):
    """The logged-in person, detached from the database session of the request."""

    def __init__(self, user: User):
        self.id = user.id
        self.email = user.email
        self.name = user.name or user.email
        self.role = user.role


def _session_is_current(user: User) -> bool:
    """Whether this request's session still stands for ``user``: same version, not too old.

    A cookie without these keys (made before they existed) is refused too."""
    signed_in_at = session.get(SIGNED_IN_AT_KEY)
    if session.get(SESSION_VERSION_KEY) != user.session_version:
        return False
    if not isinstance(signed_in_at, int | float):
        return False
    age = time.time() - signed_in_at
    return 0 <= age <= MAX_SESSION_AGE.total_seconds()


@login_manager.user_loader
def load_user(user_id: str) -> DeskUser | None:
    try:
        user = db_session().get(User, int(user_id))
    except ValueError:
        return None
    if user is None or not user.active or not _session_is_current(user):
        return None
    return DeskUser(user)


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password``; refuses passwords that are too short."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return generate_password_hash(password)


def authenticate(email: str, password: str) -> User | None:
    """The active user with ``email`` and ``password``, or None."""
    user = user_by_email(db_session(), email)
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def roles_required(*roles: str) -> Callable[[F], F]:
    """Only logged-in users with one of ``roles`` may call the view (others get 403)."""
    unknown = set(roles) - set(USER_ROLES)
    if unknown:
        raise ValueError(f"unknown role(s): {', '.join(sorted(unknown))}")

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


class LoginForm(FlaskForm):
    email = EmailField(
        _l("Email"),
        validators=[DataRequired(), Length(max=320), Regexp(r"^[^@\s]+@[^@\s]+$")],
    )
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=500)])


def _safe_next(target: str | None) -> str:
    """Only same-site paths are followed after login (no open redirect)."""
    return same_site_path(target, url_for("desk.dashboard"))


@bp.route("/login", methods=["GET", "POST"])
@login_limits
def login():  # type: ignore[no-untyped-def]
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data or "", form.password.data or "")
        if user is not None:
            user.last_login_at = utcnow()
            db_session().commit()
            # Permanent: the cookie ends with PERMANENT_SESSION_LIFETIME, not with the browser
            # (which may never close); no remember-me cookie outlives it.
            session.permanent = True
            login_user(DeskUser(user), remember=False)
            session[SESSION_VERSION_KEY] = user.session_version
            session[SIGNED_IN_AT_KEY] = int(time.time())
            return redirect(_safe_next(request.args.get("next")))
        record_failed_login()
        log.warning("failed login for %r from %s", form.email.data, request.remote_addr)
        flash(_("Email or password is wrong."), "error")
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    if current_user.is_authenticated:
        # Ends every session of the user, not only this cookie: a copy of the cookie (stolen,
        # or left in another browser) must not outlive "sign out", and a signed cookie cannot
        # be recalled any other way.
        user = db_session().get(User, current_user.id)
        if user is not None:
            end_sessions(db_session(), user)
            db_session().commit()
    logout_user()
    session.pop(SESSION_VERSION_KEY, None)
    session.pop(SIGNED_IN_AT_KEY, None)
    flash(_("You are signed out."), "info")
    return redirect(url_for("search.index"))


def init_app(app: Flask) -> None:
    """Sessions that expire, and Flask-Login on ``app``."""
    settings = app.config["FOERDERDESK"]
    # Set, not defaulted: Flask's own default (31 days) is always there.
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=settings.session_lifetime_hours)
    login_manager.init_app(app)
