"""The public call list, the call page and the JSON API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.storage.factories import make_call


def soon(days: int) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


def test_index_lists_open_calls_soonest_first(client: FlaskClient, session: Session) -> None:
    make_call(session, title="Städtepartnerschaften CERV", status="open", deadlines=[soon(60)])
    make_call(session, title="LIFE Klimaanpassung", status="open", deadlines=[soon(10)])
    make_call(session, title="Längst vorbei", status="closed", deadlines=[soon(-10)])
    session.commit()
    page = client.get("/").get_data(as_text=True)
    assert "2 Ausschreibungen" in page
    assert page.index("LIFE Klimaanpassung") < page.index("Städtepartnerschaften CERV")
    assert "Längst vorbei" not in page


def test_index_without_calls_explains_how_to_get_some(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    assert "Keine Ausschreibung passt zu dieser Suche" in page
    assert "foerderdesk crawl" not in page


def test_call_page_shows_sanitised_description(client: FlaskClient, session: Session) -> None:
    call = make_call(
        session,
        title="Youth exchange",
        description='<p onclick="steal()">Real text</p><script>alert(1)</script>',
        deadlines=[soon(30)],
    )
    session.commit()
    page = client.get(f"/calls/{call.id}").get_data(as_text=True)
    assert "Real text" in page
    assert "<script>alert" not in page
    assert "onclick" not in page
    assert client.get("/calls/999999").status_code == 404


def test_api_lists_calls_as_json_with_status_and_deadlines(
    client: FlaskClient, session: Session
) -> None:
    call = make_call(
        session,
        title="Town twinning",
        source_id="CERV-2026-CITIZENS-TOWN-TT",
        status="open",
        deadlines=[soon(45)],
        eligible_applicants=["municipality"],
    )
    session.commit()
    body = client.get("/api/v1/calls").get_json()
    assert body["total"] == 1
    item = body["items"][0]
    assert item["id"] == call.id
    assert item["source_id"] == "CERV-2026-CITIZENS-TOWN-TT"
    assert item["status"] == "open"
    assert item["eligible_applicants"] == ["municipality"]
    assert datetime.fromisoformat(item["next_deadline"]) == call.deadlines[0].due_at
    detail = client.get(f"/api/v1/calls/{call.id}").get_json()
    assert detail["title"] == "Town twinning"


def test_api_rejects_bad_parameters_with_a_clear_message(client: FlaskClient) -> None:
    response = client.get("/api/v1/calls?status=maybe")
    assert response.status_code == 400
    assert "unknown status 'maybe'" in response.get_json()["message"]
    response = client.get("/api/v1/calls?per_page=lots")
    assert response.status_code == 400
    assert "'per_page' must be a whole number" in response.get_json()["message"]
    assert client.get("/api/v1/calls/424242").status_code == 404


def test_every_response_carries_security_headers(client: FlaskClient) -> None:
    response = client.get("/")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_a_programme_named_like_the_call_is_not_said_twice(
    client: FlaskClient, session: Session
) -> None:
    own = make_call(session, title="Klimaschutz im Ehrenamt", programme="Klimaschutz im Ehrenamt",
                    funder="Land Niedersachsen", deadlines=[soon(30)])  # fmt: skip
    other = make_call(session, title="Twinning 2027", programme="CERV", funder="EU",
                      deadlines=[soon(30)])  # fmt: skip
    session.commit()
    own_page = client.get(f"/calls/{own.id}").get_data(as_text=True)
    assert "Land Niedersachsen · Klimaschutz" not in own_page
    assert own_page.count("Klimaschutz im Ehrenamt") >= 2  # the title, the page title
    assert "EU · CERV" in client.get(f"/calls/{other.id}").get_data(as_text=True)
    listing = client.get("/").get_data(as_text=True)
    assert "EU · CERV" in listing and "Land Niedersachsen · Klimaschutz" not in listing
