"""Logins, roles and the desk's ranked list of a profile's calls."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from storage.models import Match, MatchRun, User
from tests.storage.factories import make_call, make_profile
from tests.webui.logins import PASSWORD, add_user, csrf_token, login
from webui.auth import hash_password


def test_desk_pages_need_a_login(client: FlaskClient) -> None:
    for path in ("/desk", "/desk/profiles/", "/profiles/"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 302
        location = response.headers["Location"]
        if path == "/profiles/":  # the old address leads to the desk, which asks for a login
            location = client.get(location).headers["Location"]
        assert "/login" in location


def test_login_with_right_password_opens_the_desk(client: FlaskClient, session: Session) -> None:
    add_user(session)
    response = login(client, "Desk@Example.org")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/desk")
    assert client.get("/desk").status_code == 200
    assert session.get(User, 1) is not None


def test_wrong_password_or_unknown_email_is_refused_alike(
    client: FlaskClient, session: Session
) -> None:
    add_user(session)
    wrong = login(client, "desk@example.org", "wrong password!!")
    unknown = login(client, "nobody@example.org")
    for response in (wrong, unknown):
        assert response.status_code == 400
        assert "E-Mail oder Passwort ist falsch." in response.get_data(as_text=True)
    assert client.get("/desk").status_code == 302


def test_login_without_csrf_token_is_rejected(client: FlaskClient, session: Session) -> None:
    add_user(session)
    response = client.post("/login", data={"email": "desk@example.org", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/desk").status_code == 302


def test_login_never_redirects_off_site(client: FlaskClient, session: Session) -> None:
    add_user(session)
    response = login(client, "desk@example.org", next_="//evil.example/")
    assert response.headers["Location"].endswith("/desk")


def test_inactive_user_cannot_log_in(client: FlaskClient, session: Session) -> None:
    user = add_user(session)
    user.active = False
    session.commit()
    assert login(client, "desk@example.org").status_code == 400


def test_passwords_are_hashed_and_short_ones_refused() -> None:
    stored = hash_password(PASSWORD)
    assert PASSWORD not in stored
    assert stored.startswith(("scrypt:", "pbkdf2:"))
    with pytest.raises(ValueError, match="at least 12 characters"):
        hash_password("short")


def test_profile_page_shows_ranked_matches_with_reasons(
    client: FlaskClient, session: Session
) -> None:
    add_user(session)
    profile = make_profile(session, slug="klima-bristol", name="Klimaschutz mit Bristol")
    good = make_call(session, title="Climate-neutral cities", status="open")
    other = make_call(session, title="Urban greening", status="open")
    run = MatchRun(outcome="succeeded", profiles_count=1, matches_count=2)
    session.add(run)
    session.flush()
    session.add_all([
        Match(match_run_id=run.id, profile_id=profile.id, call_id=other.id, score=0.2, rank=2,
              explanation={"terms": [["urban greening", 0.1]]}),
        Match(match_run_id=run.id, profile_id=profile.id, call_id=good.id, score=0.4, rank=1,
              explanation={"terms": [["climate neutrality", 0.3]],
                           "applicant_type": "municipality"},
              eligibility_unknown=False),
    ])  # fmt: skip
    session.commit()
    login(client, "desk@example.org")
    listing = client.get("/desk/profiles/").get_data(as_text=True)
    assert "Klimaschutz mit Bristol" in listing
    assert 'href="/desk/profiles/klima-bristol"' in listing
    page = client.get("/desk/profiles/klima-bristol").get_data(as_text=True)
    assert page.index("Climate-neutral cities") < page.index("Urban greening")
    assert "climate neutrality" in page
    assert "Kommunen antragsberechtigt" in page
    assert client.get("/desk/profiles/no-such-profile").status_code == 404


def test_logout_needs_post_with_csrf(client: FlaskClient, session: Session) -> None:
    add_user(session)
    login(client, "desk@example.org")
    assert client.get("/logout").status_code == 405
    token = csrf_token(client, "/desk")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/desk").status_code == 302
