"""Users and API tokens: unique emails, checked roles, no self-demotion, hashed tokens that
stop working when revoked or when their user is deactivated."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import ApiToken, User, utcnow
from storage.users import (
    UserError,
    create_api_token,
    create_user,
    list_users,
    revoke_api_tokens,
    set_active,
    set_role,
    user_for_token,
)


def add(session: Session, email: str, role: str = "desk", **values: str) -> User:
    return create_user(session, email, password_hash="hash", role=role, **values)


def test_create_user_is_active_with_its_role_and_department(session: Session) -> None:
    user = add(session, " staff@example.org ", "staff", name="Ada", department="Umwelt")
    session.commit()
    stored = session.scalars(select(User)).one()
    assert stored is user
    assert (user.email, user.role, user.department, user.name) == (
        "staff@example.org", "staff", "Umwelt", "Ada",
    )  # fmt: skip
    assert user.active


def test_email_is_unique_without_regard_to_case(session: Session) -> None:
    add(session, "desk@example.org")
    with pytest.raises(UserError, match="exists already") as refused:
        add(session, "DESK@Example.org")
    assert refused.value.reason == "email_taken"


@pytest.mark.parametrize("email", ["", "no-at-sign", "two@@example.org", "a b@example.org"])
def test_a_malformed_email_is_refused(session: Session, email: str) -> None:
    with pytest.raises(UserError) as refused:
        add(session, email)
    assert refused.value.reason == "bad_email"


def test_unknown_roles_are_refused(session: Session) -> None:
    with pytest.raises(UserError, match="unknown role 'root'"):
        add(session, "a@example.org", "root")
    user = add(session, "b@example.org")
    with pytest.raises(UserError, match="unknown role"):
        set_role(session, user, "superuser")
    assert user.role == "desk"


def test_set_role_changes_others_but_not_oneself(session: Session) -> None:
    admin = add(session, "admin@example.org", "admin")
    desk = add(session, "desk@example.org")
    assert set_role(session, desk, "staff", actor=admin) is True
    assert set_role(session, desk, "staff", actor=admin) is False  # nothing to change
    with pytest.raises(UserError) as refused:
        set_role(session, admin, "desk", actor=admin)
    assert refused.value.reason == "own_role"
    assert admin.role == "admin"


def test_deactivating_revokes_tokens_and_reactivating_does_not_restore_them(
    session: Session,
) -> None:
    admin = add(session, "admin@example.org", "admin")
    desk = add(session, "desk@example.org")
    secret = create_api_token(session, desk)
    assert set_active(session, desk, False, actor=admin) is True
    assert not desk.active
    assert user_for_token(session, secret) is None
    assert set_active(session, desk, True, actor=admin) is True
    assert user_for_token(session, secret) is None
    assert user_for_token(session, create_api_token(session, desk)) is desk


def test_nobody_deactivates_themself(session: Session) -> None:
    admin = add(session, "admin@example.org", "admin")
    with pytest.raises(UserError) as refused:
        set_active(session, admin, False, actor=admin)
    assert refused.value.reason == "own_account"
    assert admin.active


def test_list_users_puts_active_users_first_then_by_email(session: Session) -> None:
    for email in ("b@example.org", "C@example.org", "a@example.org"):
        add(session, email)
    gone = add(session, "0@example.org")
    set_active(session, gone, False)
    assert [u.email for u in list_users(session)] == [
        "a@example.org", "b@example.org", "C@example.org", "0@example.org",
    ]  # fmt: skip


def test_only_the_hash_of_a_token_is_stored(session: Session) -> None:
    user = add(session, "desk@example.org")
    secret = create_api_token(session, user)
    session.commit()
    stored = session.scalars(select(ApiToken)).one()
    assert len(secret) >= 40
    assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in stored.token_hash
    assert create_api_token(session, user) != secret


def test_user_for_token_finds_the_user_and_refuses_wrong_tokens(session: Session) -> None:
    user = add(session, "desk@example.org")
    secret = create_api_token(session, user)
    assert user_for_token(session, secret) is user
    for wrong in ("", secret[:-1], secret + "x", "x" * 10_000):
        assert user_for_token(session, wrong) is None


def test_revoking_counts_only_working_tokens(session: Session) -> None:
    user = add(session, "desk@example.org")
    other = add(session, "other@example.org")
    first, second = create_api_token(session, user), create_api_token(session, user)
    kept = create_api_token(session, other)
    assert revoke_api_tokens(session, user) == 2
    assert revoke_api_tokens(session, user) == 0
    assert user_for_token(session, first) is None and user_for_token(session, second) is None
    assert user_for_token(session, kept) is other


def test_a_deactivated_user_gets_no_new_token(session: Session) -> None:
    user = add(session, "desk@example.org")
    set_active(session, user, False)
    with pytest.raises(UserError, match="deactivated"):
        create_api_token(session, user)


def test_last_used_is_written_at_most_once_a_minute(session: Session) -> None:
    user = add(session, "desk@example.org")
    secret = create_api_token(session, user)
    token = session.scalars(select(ApiToken)).one()
    assert token.last_used_at is None
    start = utcnow()
    user_for_token(session, secret, now=start)
    assert token.last_used_at == start
    user_for_token(session, secret, now=start + timedelta(seconds=30))
    assert token.last_used_at == start
    later = start + timedelta(seconds=61)
    user_for_token(session, secret, now=later)
    assert token.last_used_at == later
