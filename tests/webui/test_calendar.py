"""The deadline calendar: a month of pursued calls' deadlines, and a personal .ics feed under
a secret, revocable address."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Review, User
from tests.storage.factories import make_call, make_profile
from tests.webui.logins import add_user, csrf_token, login

STAGE_1 = datetime(2026, 12, 10, 16, 0, tzinfo=UTC)  # 17:00 in Hannover
STAGE_2 = datetime(2027, 3, 1, 16, 0, tzinfo=UTC)
POSTS = ("/calendar/feed", "/calendar/feed/revoke")


def signed_in(client: FlaskClient, session: Session, role: str = "desk", dept: str = "") -> User:
    user = add_user(session, f"{role}-{dept}@example.org", role, department=dept)
    login(client, user.email)
    client.set_cookie("lang", "en")
    return user


def pursue(session: Session, title: str, status: str, department: str = "Umwelt") -> None:
    profile = make_profile(session, f"p-{title.lower()}", name=f"Profil {title}",
                           department=department)  # fmt: skip
    call = make_call(session, title=title, deadlines=[STAGE_1, STAGE_2], deadline_model="two_stage")
    session.add(Review(profile_id=profile.id, call_id=call.id, status=status))
    session.commit()


def make_feed(client: FlaskClient) -> str:
    token = csrf_token(client, "/calendar/")
    response = client.post("/calendar/feed", data={"csrf_token": token})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    found = re.search(r">http://localhost(/calendar/feed/[^<]+\.ics)<", response.text)
    assert found, "the page shows the feed's address"
    assert "webcal://localhost/calendar/feed/" in response.text
    return found.group(1)


@pytest.mark.parametrize("path", ["/calendar/", "/calendar/?month=2026-12"])
def test_the_calendar_needs_a_login(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("path", POSTS)
def test_anonymous_feed_changes_are_sent_to_the_login(client: FlaskClient, path: str) -> None:
    token = csrf_token(client, "/login")
    response = client.post(path, data={"csrf_token": token})
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("path", POSTS)
def test_feed_changes_need_their_csrf_token(
    client: FlaskClient, session: Session, path: str
) -> None:
    user = signed_in(client, session)
    assert client.post(path).status_code == 400
    session.refresh(user)
    assert user.calendar_token_hash is None


@pytest.mark.parametrize("role", ["admin", "desk", "staff"])
def test_a_shortlisted_deadline_is_in_the_month_and_a_new_one_is_not(
    client: FlaskClient, session: Session, role: str
) -> None:
    pursue(session, "Kurzliste", "shortlisted")
    pursue(session, "Neuigkeit", "new")
    signed_in(client, session, role, "Umwelt")
    page = client.get("/calendar/?month=2026-12").text
    assert "Deadlines in December 2026" in page
    assert "Kurzliste" in page and "Neuigkeit" not in page
    cell = page.split('<time datetime="2026-12-10">')[1].split("</td>")[0]
    assert "Kurzliste" in cell and "17:00" in cell and "Stage 1 of 2" in cell
    assert "Profil Kurzliste" in cell and "Shortlisted" in cell
    assert re.search(r'href="/(desk/profiles/p-kurzliste/calls|calls)/\d+"', cell)
    assert "Stage 2 of 2" not in page  # in March
    march = client.get("/calendar/?month=2027-03").text
    assert "Stage 2 of 2" in march and "Kurzliste" in march


def test_staff_see_only_their_departments_deadlines(client: FlaskClient, session: Session) -> None:
    pursue(session, "Umweltprojekt", "applying", department="Umwelt")
    pursue(session, "Jugendprojekt", "applying", department="Jugend")
    signed_in(client, session, "staff", "Umwelt")
    page = client.get("/calendar/?month=2026-12").text
    assert "Umweltprojekt" in page and "Jugendprojekt" not in page


def test_months_link_to_their_neighbours_and_mark_today(
    client: FlaskClient, session: Session
) -> None:
    signed_in(client, session)
    page = client.get("/calendar/?month=2027-01").text
    assert 'href="/calendar/?month=2026-12"' in page
    assert 'href="/calendar/?month=2027-02"' in page
    assert '<th scope="col"><abbr title="Monday">Mon</abbr></th>' in page
    # Days are written as on every other page (day before month), not in US order.
    assert '<time datetime="2027-01-04">Monday, 4 January 2027</time>' in page
    this_month = client.get("/calendar/").text
    assert this_month.count('aria-current="date"') == 1
    assert client.get("/calendar/?month=2026-13").status_code == 400
    assert client.get("/calendar/?month=soon").status_code == 400


def test_the_month_speaks_german_by_default(client: FlaskClient, session: Session) -> None:
    pursue(session, "Kurzliste", "shortlisted")
    signed_in(client, session)
    client.set_cookie("lang", "de")
    page = client.get("/calendar/?month=2026-12").text
    assert "Fristen im Dezember 2026" in page and "Stufe 1 von 2" in page
    assert "Montag, 7. Dezember 2026" in page


def test_the_feed_has_every_stage_and_parses(client: FlaskClient, session: Session) -> None:
    pursue(session, "Kurzliste", "forwarded")
    pursue(session, "Neuigkeit", "reviewing")
    user = signed_in(client, session)
    user.language = "de"
    session.commit()
    path = make_feed(client)
    client.get("/logout")
    anonymous = client.application.test_client()
    response = anonymous.get(path)
    assert response.status_code == 200
    assert response.content_type == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.data)
    events = list(calendar.walk("VEVENT"))
    assert [e.decoded("dtstart") for e in events] == [STAGE_1, STAGE_2]
    assert {str(e["summary"]) for e in events} == {"Frist: Kurzliste (Profil Kurzliste)"}
    assert len({str(e["uid"]) for e in events}) == 2
    description = str(events[0]["description"])
    assert "Stufe 1 von 2" in description and "Weitergeleitet" in description
    assert "http://localhost/calls/" in description
    (alarm,) = events[0].walk("VALARM")
    assert alarm.decoded("trigger").days == -7
    # The same address again: the same UIDs, so a calendar updates instead of doubling.
    again = Calendar.from_ical(anonymous.get(path).data)
    assert [str(e["uid"]) for e in again.walk("VEVENT")] == [str(e["uid"]) for e in events]


def test_the_token_is_stored_hashed_and_a_new_one_replaces_it(
    client: FlaskClient, session: Session
) -> None:
    user = signed_in(client, session)
    first = make_feed(client)
    secret = first.rsplit("/", 1)[1].removesuffix(".ics")
    session.refresh(user)
    assert user.calendar_token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in (user.calendar_token_hash or "")
    page = client.get("/calendar/").text
    assert secret not in page and "Make a new feed address" in page
    second = make_feed(client)
    assert second != first
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200


def test_a_revoked_or_unknown_token_is_404(client: FlaskClient, session: Session) -> None:
    user = signed_in(client, session)
    path = make_feed(client)
    token = csrf_token(client, "/calendar/")
    response = client.post("/calendar/feed/revoke", data={"csrf_token": token})
    assert response.status_code == 302
    assert "turned off" in client.get(response.headers["Location"]).text
    session.refresh(user)
    assert user.calendar_token_hash is None
    assert client.get(path).status_code == 404
    assert client.get("/calendar/feed/not-a-token.ics").status_code == 404


def test_a_deactivated_persons_feed_stops(client: FlaskClient, session: Session) -> None:
    user = signed_in(client, session)
    path = make_feed(client)
    person = session.scalar(select(User).where(User.id == user.id))
    assert person is not None
    person.active = False
    session.commit()
    assert client.application.test_client().get(path).status_code == 404
