"""Test helpers for pages behind a login: users, CSRF tokens, signing in."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from storage.models import User
from webui.auth import hash_password

PASSWORD = "correct horse battery staple"


def add_user(
    session: Session,
    email: str = "desk@example.org",
    role: str = "desk",
    *,
    name: str = "Desk",
    department: str = "",
) -> User:
    """A user who signs in with ``PASSWORD``."""
    user = User(
        email=email,
        role=role,
        name=name,
        department=department,
        password_hash=hash_password(PASSWORD),
    )
    session.add(user)
    session.commit()
    return user


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the first form on the page at ``path``."""
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert found, "the form carries no CSRF token"
    return found.group(1)


def login(
    client: FlaskClient, email: str, password: str = PASSWORD, next_: str = ""
) -> TestResponse:
    """Sign in through the login form, as a person would."""
    token = csrf_token(client)
    url = "/login" + (f"?next={next_}" if next_ else "")
    return client.post(url, data={"email": email, "password": password, "csrf_token": token})
