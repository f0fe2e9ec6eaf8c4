"""Sessions the server can end: a cookie copied before a logout, a new password, a new role or a
deactivation no longer opens the desk; an untouched session keeps working; sessions end
``MAX_SESSION_AGE`` after sign-in however busy; private answers carry ``no-store``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from storage.cli import main
from storage.models import User
from tests.webui.logins import add_user, csrf_token, login
from webui.auth import MAX_SESSION_AGE

DESK_PAGE = "/desk"
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def frozen() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(START, tick=False) as clock:
        yield clock


def opens_desk(client: FlaskClient) -> bool:
    """Whether the desk page opens; a refused session is sent to the login."""
    response = client.get(DESK_PAGE)
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/login")
        return False
    assert response.status_code == 200
    return True


def signed_in_cookie(client: FlaskClient, email: str) -> str:
    """Sign ``client`` in and return its session cookie, as an attacker would copy it."""
    assert login(client, email).status_code == 302
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def replay(app: Flask, cookie: str) -> FlaskClient:
    """A fresh client that carries nothing but the copied session cookie."""
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other


def sign_out(client: FlaskClient) -> None:
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 302


def post_as_admin(admin: FlaskClient, path: str, **data: str) -> None:
    token = csrf_token(admin, "/admin/users")
    assert admin.post(path, data={"csrf_token": token, **data}).status_code == 302


def test_a_cookie_copied_before_logout_is_refused_afterwards(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    add_user(session, "desk@example.org")
    cookie = signed_in_cookie(client, "desk@example.org")
    assert opens_desk(replay(app, cookie))  # the copy works while the session lives
    sign_out(client)
    assert not opens_desk(client)
    assert not opens_desk(replay(app, cookie))


def test_logout_signs_out_every_browser_of_the_user(app: Flask, session: Session) -> None:
    add_user(session, "desk@example.org")
    first, second = app.test_client(), app.test_client()
    signed_in_cookie(first, "desk@example.org")
    signed_in_cookie(second, "desk@example.org")
    assert opens_desk(second)
    sign_out(first)
    assert not opens_desk(second)
    assert login(second, "desk@example.org").status_code == 302  # signing in again works
    assert opens_desk(second)


def test_an_untouched_session_keeps_working(app: Flask, session: Session) -> None:
    add_user(session, "desk@example.org")
    add_user(session, "other@example.org", name="Other")
    mine, theirs = app.test_client(), app.test_client()
    signed_in_cookie(mine, "desk@example.org")
    signed_in_cookie(theirs, "other@example.org")
    for _ in range(3):
        assert opens_desk(mine)
    sign_out(theirs)  # another person's logout ends only their sessions
    assert opens_desk(mine)


def test_a_password_change_ends_the_users_sessions(
    app: Flask,
    client: FlaskClient,
    session: Session,
    database_url: str,
    tmp_path: Path,
) -> None:
    add_user(session, "desk@example.org")
    cookie = signed_in_cookie(client, "desk@example.org")
    base = ["--instance", str(tmp_path / "instance"), "--database-url", database_url]
    result = CliRunner().invoke(
        main,
        [*base, "users", "password", "desk@example.org", "--password-stdin"],
        input="a brand new password\n",
    )
    assert result.exit_code == 0, result.output
    assert not opens_desk(client)
    assert not opens_desk(replay(app, cookie))
    assert login(client, "desk@example.org", "a brand new password").status_code == 302
    assert opens_desk(client)


def test_a_role_change_ends_the_users_sessions(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    add_user(session, "admin@example.org", "admin")
    desk = add_user(session, "desk@example.org")
    admin = app.test_client()
    signed_in_cookie(admin, "admin@example.org")
    cookie = signed_in_cookie(client, "desk@example.org")
    post_as_admin(admin, f"/admin/users/{desk.id}/role", **{f"u{desk.id}-role": "staff"})
    session.expire_all()
    assert session.get(User, desk.id).role == "staff"  # type: ignore[union-attr]
    assert not opens_desk(client)
    assert not opens_desk(replay(app, cookie))
    assert opens_desk(admin)  # the administrator who made the change stays signed in


def test_deactivation_ends_the_users_sessions_and_reactivation_does_not_revive_them(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    add_user(session, "admin@example.org", "admin")
    desk = add_user(session, "desk@example.org")
    admin = app.test_client()
    signed_in_cookie(admin, "admin@example.org")
    cookie = signed_in_cookie(client, "desk@example.org")
    post_as_admin(admin, f"/admin/users/{desk.id}/deactivate")
    assert not opens_desk(replay(app, cookie))
    post_as_admin(admin, f"/admin/users/{desk.id}/reactivate")
    assert not opens_desk(replay(app, cookie))
    assert not opens_desk(client)
    assert login(client, "desk@example.org").status_code == 302
    assert opens_desk(client)


def test_a_session_ends_after_its_maximum_age_even_when_busy(
    client: FlaskClient, session: Session, frozen: time_machine.Coordinates
) -> None:
    add_user(session, "desk@example.org")
    signed_in_cookie(client, "desk@example.org")
    elapsed = timedelta()
    step = timedelta(hours=1)
    while elapsed + step < MAX_SESSION_AGE:
        frozen.shift(step)
        elapsed += step
        assert opens_desk(client), elapsed  # requests within the idle timeout keep it going
    frozen.shift(MAX_SESSION_AGE - elapsed + timedelta(seconds=1))
    assert not opens_desk(client)


def test_a_cookie_without_the_new_keys_is_refused(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    """A session from before this change (Flask-Login's keys only) must sign in again."""
    user = add_user(session, "desk@example.org")
    with client.session_transaction() as cookie_session:
        cookie_session["_user_id"] = str(user.id)
        cookie_session["_fresh"] = True
    assert not opens_desk(client)


def test_private_answers_are_not_stored_public_pages_keep_their_caching(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    anonymous = app.test_client()
    assert "no-store" not in anonymous.get("/").headers.get("Cache-Control", "")
    api = anonymous.get("/api/v1/calls")
    assert api.status_code == 200
    assert api.headers["Cache-Control"] == "no-store"
    refused = anonymous.get("/api/v1/profiles")
    assert refused.status_code == 401
    assert refused.headers["Cache-Control"] == "no-store"

    add_user(session, "desk@example.org")
    signed_in_cookie(client, "desk@example.org")
    desk = client.get(DESK_PAGE)
    assert desk.status_code == 200
    assert desk.headers["Cache-Control"] == "no-store"
    assert client.get("/").headers["Cache-Control"] == "no-store"  # the signed-in view of it
    static = client.get("/static/site.css")  # the same for everyone
    assert static.status_code == 200
    assert "no-store" not in static.headers.get("Cache-Control", "")
    static.close()
