"""Ranked public search: a German query finds English calls; filters, errors and the API agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.storage.factories import make_call


def soon(days: int) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


def _corpus(session: Session) -> dict[str, int]:
    calls = {
        "youth": make_call(
            session, title="Youth exchanges between Poland and Germany", language="en",
            summary="Mobility of young people and youth workers.", status="open",
            deadlines=[soon(40)], eligible_applicants=["ngo"],
        ),
        "twinning": make_call(
            session, title="Town twinning for citizens", language="en",
            summary="Meetings of citizens from twinned towns.", status="open",
            deadlines=[soon(30)], eligible_applicants=["municipality"],
        ),
        "quantum": make_call(
            session, title="Quantum computing infrastructure", language="en",
            summary="Quantum processors for research.", status="open", deadlines=[soon(20)],
        ),
    }  # fmt: skip
    session.commit()
    return {name: call.id for name, call in calls.items()}


def test_german_query_finds_english_call_ranked_first(
    client: FlaskClient, session: Session
) -> None:
    ids = _corpus(session)
    body = client.get("/api/v1/calls?q=Jugendaustausch Polen").get_json()
    assert body["items"][0]["id"] == ids["youth"]
    assert body["items"][0]["score"] > 0
    assert body["items"][0]["page_url"].endswith(f"/calls/{ids['youth']}")
    assert ids["quantum"] not in [item["id"] for item in body["items"]]
    page = client.get("/?q=Städtepartnerschaft").get_data(as_text=True)
    assert f'href="/calls/{ids["twinning"]}"' in page
    assert "Quantum" not in page


def test_applicant_filter_keeps_unstated_only_when_asked(
    client: FlaskClient, session: Session
) -> None:
    ids = _corpus(session)
    named = client.get("/api/v1/calls?applicant=ngo").get_json()
    assert [item["id"] for item in named["items"]] == [ids["youth"]]
    both = client.get("/api/v1/calls?applicant=ngo&unstated=1").get_json()
    assert {item["id"] for item in both["items"]} == {ids["youth"], ids["quantum"]}


def test_bad_parameters_are_a_clear_400_not_a_500(client: FlaskClient) -> None:
    response = client.get("/api/v1/calls?page=100000000000000000000")
    assert response.status_code == 400
    assert "page" in response.get_json()["message"]
    assert client.get("/?page=100000000000000000000&q=Klima").status_code == 200
    assert client.get("/?q=a%00b").status_code == 400  # see test_input_guard


def test_unknown_page_is_a_german_404(client: FlaskClient) -> None:
    response = client.get("/calls/999999")
    assert response.status_code == 404
    assert "Seite nicht gefunden" in response.get_data(as_text=True)
    assert client.get("/api/v1/calls/999999").get_json()["error"] == "Not Found"
