"""Logins hardened: failed sign-ins are limited per address and per account (429), the limits
pass with time and never lock another account, sessions expire, deactivated people are
refused and signed out, and the form needs its CSRF token."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from storage.config import Settings, load_settings
from tests.webui.logins import PASSWORD, add_user, csrf_token
from webui import create_app
from webui.limits import LOGIN_PER_ACCOUNT, LOGIN_PER_ADDRESS

ADDRESS_LIMIT = int(LOGIN_PER_ADDRESS.split()[0])
ACCOUNT_LIMIT = int(LOGIN_PER_ACCOUNT.split()[0])
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def frozen() -> Iterator[time_machine.Coordinates]:
    """The clock of the limiter and of the session cookie, moved on by the test."""
    with time_machine.travel(START, tick=False) as clock:
        yield clock


def sign_in(
    client: FlaskClient, email: str, password: str = PASSWORD, address: str = "192.0.2.1"
) -> TestResponse:
    """Post the login form from ``address``."""
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_token(client)},
        environ_base={"REMOTE_ADDR": address},
    )


def signed_in(client: FlaskClient) -> bool:
    return client.get("/admin/users").status_code == 200


def sign_out(client: FlaskClient) -> None:
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})


def test_failures_from_one_address_are_limited_for_every_account(
    client: FlaskClient, session: Session, frozen: time_machine.Coordinates
) -> None:
    add_user(session, "admin@example.org", "admin")
    for n in range(ADDRESS_LIMIT):
        assert sign_in(client, f"guess{n}@example.org", "wrong password!").status_code == 400
    blocked = sign_in(client, "admin@example.org")
    assert blocked.status_code == 429
    page = blocked.get_data(as_text=True)
    assert "Zu viele Anfragen" in page and "Fehlercode 429" in page
    wait = int(blocked.headers["Retry-After"])
    assert 0 < wait <= 61
    assert f"Bitte warten Sie {wait} Sekunde" in page  # how long, as the header says
    assert not signed_in(client)
    # Another address is not affected, and a minute later this one may try again.
    assert sign_in(client, "admin@example.org", address="198.51.100.7").status_code == 302
    sign_out(client)
    frozen.shift(timedelta(seconds=61))
    assert sign_in(client, "admin@example.org").status_code == 302


def test_failures_on_one_account_lock_it_from_every_address(
    client: FlaskClient, session: Session, frozen: time_machine.Coordinates
) -> None:
    add_user(session, "admin@example.org", "admin")
    for n in range(ACCOUNT_LIMIT):
        wrong = sign_in(client, "Admin@Example.org", "wrong password!", f"203.0.113.{n}")
        assert wrong.status_code == 400
    # Even the right password is refused now, from a fresh address too.
    locked = sign_in(client, "admin@example.org", address="203.0.113.99")
    assert locked.status_code == 429
    assert "Bitte warten Sie 15 Minuten" in locked.get_data(as_text=True)
    assert not signed_in(client)
    frozen.shift(timedelta(minutes=14))
    assert sign_in(client, "admin@example.org", address="203.0.113.99").status_code == 429
    frozen.shift(timedelta(minutes=1, seconds=1))
    assert sign_in(client, "admin@example.org", address="203.0.113.99").status_code == 302
    assert signed_in(client)


def test_a_locked_account_does_not_lock_another(
    client: FlaskClient, session: Session, frozen: time_machine.Coordinates
) -> None:
    add_user(session, "desk@example.org", "desk")
    add_user(session, "admin@example.org", "admin")
    for _ in range(ACCOUNT_LIMIT):
        sign_in(client, "desk@example.org", "wrong password!")
    assert sign_in(client, "desk@example.org").status_code == 429
    assert sign_in(client, "admin@example.org").status_code == 302
    assert signed_in(client)


def test_successful_sign_ins_are_not_counted(
    client: FlaskClient, session: Session, frozen: time_machine.Coordinates
) -> None:
    add_user(session, "admin@example.org", "admin")
    for _ in range(ADDRESS_LIMIT + ACCOUNT_LIMIT):
        assert sign_in(client, "admin@example.org").status_code == 302
        sign_out(client)
    for _ in range(ACCOUNT_LIMIT - 1):
        sign_in(client, "admin@example.org", "wrong password!")
    assert sign_in(client, "admin@example.org").status_code == 302


def test_requests_without_csrf_token_are_refused_and_not_counted(
    client: FlaskClient, session: Session, frozen: time_machine.Coordinates
) -> None:
    add_user(session, "admin@example.org", "admin")
    for _ in range(ADDRESS_LIMIT + 1):
        response = client.post(
            "/login", data={"email": "admin@example.org", "password": "wrong password!"}
        )
        assert response.status_code == 400
    assert sign_in(client, "admin@example.org").status_code == 302
    assert client.post("/logout").status_code == 400
    assert signed_in(client)


def test_a_session_ends_after_its_lifetime_without_requests(
    client: FlaskClient, session: Session, frozen: time_machine.Coordinates
) -> None:
    add_user(session, "admin@example.org", "admin")
    response = sign_in(client, "admin@example.org")
    cookies = response.headers.getlist("Set-Cookie")
    assert any(c.startswith("session=") and "Expires=" in c for c in cookies)
    assert not any(c.startswith("remember_token=") for c in cookies)
    frozen.shift(timedelta(hours=7, minutes=59))
    assert signed_in(client)  # a request in time keeps the session going
    frozen.shift(timedelta(hours=8, seconds=1))
    expired = client.get("/admin/users")
    assert expired.status_code == 302
    assert expired.headers["Location"].startswith("/login")


def test_the_lifetime_is_configurable(
    settings: Settings, engine: object, session: Session, frozen: time_machine.Coordinates
) -> None:
    short = load_settings(
        environ={"FOERDERDESK_SESSION_LIFETIME_HOURS": "0.5"},
        instance_path=settings.instance_path,
        database_url=settings.database_url,
        secret_key=settings.secret_key,
    )
    app: Flask = create_app(short, test_config={"TESTING": True})
    try:
        assert app.permanent_session_lifetime == timedelta(minutes=30)
        client = app.test_client()
        add_user(session, "admin@example.org", "admin")
        assert sign_in(client, "admin@example.org").status_code == 302
        frozen.shift(timedelta(minutes=31))
        assert not signed_in(client)
    finally:
        app.extensions["foerderdesk.engine"].dispose()


def test_rate_limit_storage_comes_from_the_settings(app: Flask) -> None:
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
    configured = load_settings(environ={"FOERDERDESK_RATELIMIT_STORAGE_URL": "redis://cache:6379"})
    assert configured.ratelimit_storage_url == "redis://cache:6379"


def test_deactivated_people_cannot_sign_in_and_are_signed_out(
    client: FlaskClient, session: Session, frozen: time_machine.Coordinates
) -> None:
    admin = add_user(session, "admin@example.org", "admin")
    assert sign_in(client, "admin@example.org").status_code == 302
    assert signed_in(client)
    admin.active = False
    session.commit()
    assert not signed_in(client)
    refused = sign_in(client, "admin@example.org")
    assert refused.status_code == 400
    assert "E-Mail oder Passwort ist falsch." in refused.get_data(as_text=True)
