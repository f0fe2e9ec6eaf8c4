"""The admin pages: only administrators manage users; every change is a CSRF-protected POST
that redirects back with a message; nobody demotes or deactivates themself."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from storage.models import User
from storage.users import create_api_token, user_for_token
from tests.webui.logins import add_user, csrf_token, login

NEW_PASSWORD = "a fresh initial password"


def post(client: FlaskClient, path: str, **data: str):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf_token": csrf_token(client, "/admin/users"), **data})


def new_user(**changes: str) -> dict[str, str]:
    data = {"email": "new@example.org", "name": "Nia New", "role": "staff",
            "department": "Fachbereich Umwelt", "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD}  # fmt: skip
    return {**data, **changes}


def test_anonymous_visitors_are_sent_to_the_login(client: FlaskClient) -> None:
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("role", ["desk", "staff"])
def test_desk_and_staff_get_403_on_every_admin_route(
    client: FlaskClient, session: Session, role: str
) -> None:
    other = add_user(session, "other@example.org", "staff")
    add_user(session, f"{role}@example.org", role)
    login(client, f"{role}@example.org")
    assert client.get("/admin/users").status_code == 403
    token = csrf_token(client, "/")
    paths = ["/admin/users"] + [
        f"/admin/users/{other.id}/{action}" for action in ("role", "deactivate", "reactivate")
    ]
    for path in paths:
        data = {"csrf_token": token, **new_user(), f"u{other.id}-role": "admin"}
        assert client.post(path, data=data).status_code == 403, path
    session.expire_all()
    assert session.get(User, other.id).role == "staff"  # type: ignore[union-attr]
    assert session.scalar(select(User).where(User.email == "new@example.org")) is None


def test_the_list_shows_everyone_with_role_department_state_and_last_login(
    client: FlaskClient, session: Session, admin: User
) -> None:
    add_user(session, "staff@example.org", "staff", name="Sam Staff", department="Umwelt")
    gone = add_user(session, "gone@example.org", "desk", name="Gus Gone")
    gone.active = False
    session.commit()
    page = client.get("/admin/users").get_data(as_text=True)
    row = _row(page, admin.id)
    assert "Ada Admin" in row and "admin@example.org" in row and "Administrator" in row
    assert "(you)" in row and "<time datetime=" in row
    assert "Another administrator can change your own account." in row
    staff = _row(page, session.scalar(select(User.id).where(User.role == "staff")))
    assert "Sam Staff" in staff and "City staff" in staff and "Umwelt" in staff
    assert "never" in staff and "Deactivate" in staff
    assert "deactivated" in _row(page, gone.id) and "Reactivate" in _row(page, gone.id)
    assert page.index("staff@example.org") < page.index("gone@example.org")
    assert "<script" not in page and "style=" not in page


def _row(page: str, user_id: int | None) -> str:
    found = re.search(rf'<tr id="user-{user_id}".*?</tr>', page, re.S)
    assert found, f"no row for user {user_id}"
    return found.group(0)


def test_an_admin_creates_a_user_who_can_then_sign_in(
    client: FlaskClient, session: Session, admin: User
) -> None:
    response = post(client, "/admin/users", **new_user())
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/users"
    assert "new@example.org can now sign in as City staff." in client.get("/admin/users").get_data(
        as_text=True
    )
    user = session.scalars(select(User).where(User.email == "new@example.org")).one()
    assert (user.role, user.department, user.name, user.active) == (
        "staff", "Fachbereich Umwelt", "Nia New", True,
    )  # fmt: skip
    assert check_password_hash(user.password_hash, NEW_PASSWORD)
    assert NEW_PASSWORD not in user.password_hash
    other = client.application.test_client()
    assert login(other, "new@example.org", NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"email": "ADMIN@example.org"}, "A user with this email exists already."),
        ({"email": "not an email"}, "Invalid input."),
        ({"password": "too short", "confirm": "too short"}, "Too short: at least 12 characters."),
        ({"confirm": "something else entirely"}, "The passwords differ."),
        ({"role": "root"}, "Not a valid choice"),
    ],
)
def test_a_bad_new_user_is_shown_again_with_the_reason(
    client: FlaskClient, session: Session, admin: User, changes: dict[str, str], message: str
) -> None:
    response = post(client, "/admin/users", **new_user(**changes))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert 'aria-invalid="true"' in page
    assert NEW_PASSWORD not in page  # a password is never sent back
    assert session.scalars(select(User)).all() == [admin]


def test_role_changes_and_nobody_demotes_themself(
    client: FlaskClient, session: Session, admin: User
) -> None:
    desk = add_user(session, "desk@example.org", "desk")
    response = post(client, f"/admin/users/{desk.id}/role", **{f"u{desk.id}-role": "staff"})
    assert response.status_code == 302
    assert "desk@example.org is now City staff." in client.get("/admin/users").get_data(
        as_text=True
    )
    own = post(client, f"/admin/users/{admin.id}/role", **{f"u{admin.id}-role": "desk"})
    assert own.status_code == 302
    page = client.get("/admin/users").get_data(as_text=True)
    assert "You cannot change your own role; ask another administrator." in page
    session.expire_all()
    assert (session.get(User, desk.id).role, session.get(User, admin.id).role) == (  # type: ignore[union-attr]
        "staff", "admin",
    )  # fmt: skip
    bad = post(client, f"/admin/users/{desk.id}/role", **{f"u{desk.id}-role": "root"})
    assert bad.status_code == 400


def test_deactivate_signs_out_revokes_tokens_and_reactivate_lets_back_in(
    client: FlaskClient, session: Session, admin: User
) -> None:
    desk = add_user(session, "desk@example.org", "desk")
    secret = create_api_token(session, desk)
    session.commit()
    desk_client = client.application.test_client()
    login(desk_client, "desk@example.org")
    response = post(client, f"/admin/users/{desk.id}/deactivate")
    assert response.status_code == 302
    assert "signed out, and their API tokens are revoked" in client.get("/admin/users").get_data(
        as_text=True
    )
    session.expire_all()
    assert not session.get(User, desk.id).active  # type: ignore[union-attr]
    assert user_for_token(session, secret) is None
    assert desk_client.get("/api/v1/profiles").status_code == 401
    assert login(desk_client, "desk@example.org").status_code == 400
    assert post(client, f"/admin/users/{desk.id}/reactivate").status_code == 302
    assert login(desk_client, "desk@example.org").status_code == 302


def test_nobody_deactivates_themself(client: FlaskClient, session: Session, admin: User) -> None:
    response = post(client, f"/admin/users/{admin.id}/deactivate")
    assert response.status_code == 302
    assert "You cannot deactivate yourself" in client.get("/admin/users").get_data(as_text=True)
    session.expire_all()
    assert session.get(User, admin.id).active  # type: ignore[union-attr]


def test_unknown_users_are_404(client: FlaskClient, admin: User) -> None:
    for action in ("role", "deactivate", "reactivate"):
        assert post(client, f"/admin/users/999/{action}").status_code == 404


def test_every_admin_form_needs_its_csrf_token(
    client: FlaskClient, session: Session, admin: User
) -> None:
    desk = add_user(session, "desk@example.org", "desk")
    for path, data in (
        ("/admin/users", new_user()),
        (f"/admin/users/{desk.id}/role", {f"u{desk.id}-role": "staff"}),
        (f"/admin/users/{desk.id}/deactivate", {}),
        (f"/admin/users/{desk.id}/reactivate", {}),
    ):
        assert client.post(path, data=data).status_code == 400, path
    session.expire_all()
    assert session.get(User, desk.id).role == "desk"  # type: ignore[union-attr]
    assert len(session.scalars(select(User)).all()) == 2


def test_the_page_is_german_by_default(client: FlaskClient, session: Session) -> None:
    add_user(session, "admin@example.org", "admin")
    add_user(session, "staff@example.org", "staff")
    login(client, "admin@example.org")
    page = client.get("/admin/users").get_data(as_text=True)
    assert '<html lang="de">' in page
    for german in ("Neuer Benutzer", "Rolle ändern", "Erstpasswort", "Städtische Mitarbeitende"):
        assert german in page, german
