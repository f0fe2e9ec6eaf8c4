"""The desk API: Bearer tokens (good, wrong, revoked, of a deactivated user), the role's
rules (staff read their department's profiles and may only comment), every bad input a 400
with a clear message, and each change recorded in the review's timeline as on the pages.
Answers are checked against the OpenAPI document."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from storage.models import ApiToken, Match, MatchRun, Review, ReviewNote, User
from storage.reviews import MAX_NOTE_LENGTH
from storage.users import create_api_token, revoke_api_tokens, set_active
from storage.work_queue import waiting_rematches
from tests.storage.factories import make_call, make_profile
from tests.webui.logins import add_user, login
from tests.webui.test_openapi import validator_for
from webui.api import openapi


@dataclass
class Desk:
    tokens: dict[str, str]  # by role: admin, desk, staff (of "Umwelt")
    users: dict[str, User]
    matches: list[int]  # the matches of "klima", best first
    calls: list[int]


@pytest.fixture
def desk(session: Session) -> Desk:
    """Three profiles, three ranked calls for the Umwelt department's "klima", a user of each
    role with a token."""
    klima = make_profile(session, "klima", name="Klimaschutz mit Bristol", department="Umwelt")
    make_profile(session, "kultur", name="Kulturhauptstadt", department="Kultur")
    make_profile(session, "verein", kind="partner", name="Jugendverein", applicant_type="ngo")
    make_profile(session, "alt", name="Archiviert", department="Umwelt", active=False)
    soon = datetime.now(UTC) + timedelta(days=40)
    calls = [make_call(session, title=f"Call {n}", status="open", deadlines=[soon])
             for n in range(3)]  # fmt: skip
    run = MatchRun(outcome="succeeded", profiles_count=1, matches_count=3)
    session.add(run)
    session.flush()
    matches = [
        Match(match_run_id=run.id, profile_id=klima.id, call_id=call.id, score=0.9 - rank / 10,
              rank=rank, explanation={"terms": [["Klimaschutz", 0.3]], "eligibility": "unknown"},
              eligibility_unknown=True)
        for rank, call in enumerate(calls, start=1)
    ]  # fmt: skip
    session.add_all(matches)
    users = {
        "admin": add_user(session, "admin@example.org", "admin"),
        "desk": add_user(session, "desk@example.org", "desk", name="Dana Desk"),
        "staff": add_user(
            session, "staff@example.org", "staff", name="Sam Staff", department="Umwelt"
        ),
    }
    tokens = {role: create_api_token(session, user) for role, user in users.items()}
    session.commit()
    return Desk(tokens, users, [m.id for m in matches], [c.id for c in calls])


def auth(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


def review(client: FlaskClient, token: str, match_id: int, body: Any) -> TestResponse:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(f"/api/v1/matches/{match_id}/review", data=data,
                       headers=auth(token, **{"Content-Type": "application/json"}))  # fmt: skip


def answer_of(response: TestResponse, path: str, method: str = "get") -> Any:
    """The body, checked against the document's schema for this path, method and status."""
    doc = openapi.document()
    status = str(response.status_code)
    assert status in doc["paths"][path][method]["responses"], (path, status)
    body = response.get_json()
    validator_for(doc, "paths", path, method, "responses", status, "content",
                  "application/json", "schema").validate(body)  # fmt: skip
    return body


# --- tokens -------------------------------------------------------------------------------
def test_a_good_token_lists_the_profiles_its_user_may_read(client: FlaskClient, desk: Desk) -> None:
    seen = {}
    for role in ("admin", "desk", "staff"):
        response = client.get("/api/v1/profiles", headers=auth(desk.tokens[role]))
        assert response.status_code == 200
        seen[role] = [p["slug"] for p in answer_of(response, "/profiles")["items"]]
    assert seen["desk"] == seen["admin"] == ["klima", "kultur", "verein"]
    assert seen["staff"] == ["klima"]
    item = client.get("/api/v1/profiles", headers=auth(desk.tokens["staff"])).get_json()["items"][0]
    assert (item["name"], item["kind"], item["applicant_type"]) == (
        "Klimaschutz mit Bristol", "project", "municipality",
    )  # fmt: skip
    assert item["matches_url"] == "http://localhost/api/v1/profiles/klima/matches"
    assert set(item) == set(openapi.document()["components"]["schemas"]["Profile"]["properties"])


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer ", "Basic ZGVzazpwYXNz", "Token abc"]
)
def test_without_a_bearer_token_the_answer_is_401_with_a_challenge(
    client: FlaskClient, desk: Desk, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header}
    for response in (client.get("/api/v1/profiles", headers=headers),
                     client.post(f"/api/v1/matches/{desk.matches[0]}/review", headers=headers,
                                 json={"status": "reviewing"})):  # fmt: skip
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="')
        assert "invalid_token" not in response.headers["WWW-Authenticate"]
        assert "Authorization: Bearer" in answer_of(response, "/profiles")["message"]


def test_a_wrong_revoked_or_deactivated_users_token_is_401(
    client: FlaskClient, session: Session, desk: Desk
) -> None:
    wrong = client.get("/api/v1/profiles", headers=auth(desk.tokens["desk"][:-2] + "xx"))
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    assert "revoked" in answer_of(wrong, "/profiles")["message"]
    revoke_api_tokens(session, desk.users["desk"])
    set_active(session, desk.users["staff"], False)
    session.commit()
    for role in ("desk", "staff"):
        assert client.get("/api/v1/profiles", headers=auth(desk.tokens[role])).status_code == 401
    assert client.get("/api/v1/profiles", headers=auth(desk.tokens["admin"])).status_code == 200


def test_a_browser_session_is_not_a_token(client: FlaskClient, desk: Desk) -> None:
    login(client, "desk@example.org")
    assert client.get("/api/v1/profiles").status_code == 401


def test_a_token_notes_when_it_was_last_used(
    client: FlaskClient, session: Session, desk: Desk
) -> None:
    client.get("/api/v1/profiles", headers=auth(desk.tokens["desk"]))
    used = session.scalars(
        select(ApiToken.last_used_at).where(ApiToken.user_id == desk.users["desk"].id)
    ).one()
    assert used is not None and datetime.now(UTC) - used < timedelta(minutes=1)


def test_messages_are_english_unless_german_is_asked_for(client: FlaskClient, desk: Desk) -> None:
    english = client.get("/api/v1/profiles/nope/matches", headers=auth(desk.tokens["desk"]))
    german = client.get("/api/v1/profiles/nope/matches",
                        headers=auth(desk.tokens["desk"], **{"Accept-Language": "de"}))  # fmt: skip
    assert english.get_json()["message"] == "No profile has the slug nope."
    assert german.get_json()["message"] == "Kein Profil hat das Kürzel nope."


# --- reading matches ------------------------------------------------------------------------
def test_matches_come_best_first_with_review_and_explanation(
    client: FlaskClient, desk: Desk
) -> None:
    path = "/profiles/{slug}/matches"
    response = client.get("/api/v1/profiles/klima/matches", headers=auth(desk.tokens["staff"]))
    assert response.status_code == 200
    items = answer_of(response, path)["items"]
    assert [i["id"] for i in items] == desk.matches
    assert [i["rank"] for i in items] == [1, 2, 3]
    first = items[0]
    assert (first["call_id"], first["title"], first["profile"]) == (
        desk.calls[0],
        "Call 0",
        "klima",
    )
    assert (first["review_status"], first["assignee"], first["call_status"]) == (
        "new",
        None,
        "open",
    )
    assert first["page_url"] == f"http://localhost/calls/{desk.calls[0]}"
    assert first["explanation"]["lang"] == "en"
    assert first["explanation"]["terms"] == [{"word": "Klimaschutz", "profile_word": None}]
    assert any("Klimaschutz" in line for line in first["explanation"]["reasons"])
    assert any("please check" in line for line in first["explanation"]["cautions"])
    schemas = openapi.document()["components"]["schemas"]
    assert set(first) == set(schemas["Match"]["properties"])  # every field documented
    in_german = auth(desk.tokens["staff"], **{"Accept-Language": "de"})
    german = client.get("/api/v1/profiles/klima/matches", headers=in_german)
    explained = german.get_json()["items"][0]["explanation"]
    assert explained["lang"] == "de"
    assert any("bitte prüfen" in line for line in explained["cautions"])


def test_not_relevant_calls_are_left_out_unless_asked_for(client: FlaskClient, desk: Desk) -> None:
    assert (
        review(client, desk.tokens["desk"], desk.matches[1], {"status": "not_relevant"}).status_code
        == 200
    )
    listed = client.get("/api/v1/profiles/klima/matches", headers=auth(desk.tokens["desk"]))
    assert [i["id"] for i in listed.get_json()["items"]] == [desk.matches[0], desk.matches[2]]
    every = client.get("/api/v1/profiles/klima/matches?include_not_relevant=1",
                       headers=auth(desk.tokens["desk"]))  # fmt: skip
    statuses = [i["review_status"] for i in answer_of(every, "/profiles/{slug}/matches")["items"]]
    assert statuses == ["new", "not_relevant", "new"]


def test_unknown_profile_is_404_and_another_departments_is_403(
    client: FlaskClient, desk: Desk
) -> None:
    path = "/profiles/{slug}/matches"
    missing = client.get("/api/v1/profiles/nope/matches", headers=auth(desk.tokens["desk"]))
    assert missing.status_code == 404 and answer_of(missing, path)
    refused = client.get("/api/v1/profiles/kultur/matches", headers=auth(desk.tokens["staff"]))
    assert refused.status_code == 403
    assert "department" in answer_of(refused, path)["message"]


# --- changing reviews -----------------------------------------------------------------------
def test_a_review_change_answers_the_match_and_is_recorded(
    client: FlaskClient, session: Session, desk: Desk
) -> None:
    match_id = desk.matches[0]
    body = {"status": "shortlisted", "assignee": "staff@example.org", "note": "Fits the plan."}
    response = review(client, desk.tokens["desk"], match_id, body)
    assert response.status_code == 200, response.get_data(as_text=True)
    item = answer_of(response, "/matches/{match_id}/review", "post")
    assert (item["id"], item["review_status"], item["assignee"], item["assignee_label"]) == (
        match_id, "shortlisted", "staff@example.org", "Sam Staff",
    )  # fmt: skip
    (entry,) = session.scalars(select(ReviewNote)).all()
    assert entry.author_id == desk.users["desk"].id
    assert (entry.old_status, entry.new_status, entry.body) == (
        "new",
        "shortlisted",
        "Fits the plan.",
    )
    assert (entry.old_assignee, entry.new_assignee) == (None, "Sam Staff")
    review_row = session.scalars(select(Review)).one()
    assert review_row.status == "shortlisted"
    assert waiting_rematches(session, [review_row.profile_id])  # the verdict re-ranks
    # The same status again changes nothing and adds nothing; a department as assignee works.
    again = review(client, desk.tokens["desk"], match_id, {"status": "shortlisted"})
    assert again.status_code == 200 and again.get_json()["review_status"] == "shortlisted"
    moved = review(client, desk.tokens["admin"], match_id, {"assignee": "Fachbereich Umwelt"})
    assert (
        moved.get_json()["assignee"] == moved.get_json()["assignee_label"] == "Fachbereich Umwelt"
    )
    assert len(session.scalars(select(ReviewNote)).all()) == 2


def test_staff_may_comment_on_their_department_but_not_change_status(
    client: FlaskClient, session: Session, desk: Desk
) -> None:
    path, match_id = "/matches/{match_id}/review", desk.matches[0]
    for body in (
        {"status": "reviewing"},
        {"assignee": "Umwelt"},
        {"status": "awarded", "note": "x"},
    ):
        refused = review(client, desk.tokens["staff"], match_id, body)
        assert refused.status_code == 403, body
        assert answer_of(refused, path, "post")["message"] == "Your role may not make this change."
    assert session.scalars(select(ReviewNote)).all() == []
    noted = review(client, desk.tokens["staff"], match_id, {"note": "We would co-fund this."})
    assert noted.status_code == 200
    assert answer_of(noted, path, "post")["review_status"] == "new"
    (entry,) = session.scalars(select(ReviewNote)).all()
    assert (entry.author_id, entry.body, entry.new_status) == (
        desk.users["staff"].id, "We would co-fund this.", None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "must be a JSON object"),
        ("", "must be a JSON object"),
        ([{"status": "new"}], "must be a JSON object"),
        ("null", "must be a JSON object"),
        ({}, "Nothing to change"),
        ({"status": None, "note": None}, "Nothing to change"),
        ({"status": "maybe"}, "Unknown status 'maybe'; use one of new, reviewing, shortlisted"),
        ({"status": "Shortlisted"}, "Unknown status"),
        ({"status": 3}, "status must be a string"),
        ({"note": ["a"]}, "note must be a string"),
        ({"assignee": True}, "assignee must be a string"),
        ({"stauts": "new"}, "Unknown field(s) stauts"),
        ({"note": "x" * (MAX_NOTE_LENGTH + 1)}, f"at most {MAX_NOTE_LENGTH} characters"),
        ({"assignee": "x" * 201}, "at most 200 characters"),
    ],
)
def test_each_bad_input_is_a_400_with_a_clear_message(
    client: FlaskClient, session: Session, desk: Desk, body: Any, message: str
) -> None:
    response = review(client, desk.tokens["desk"], desk.matches[0], body)
    assert response.status_code == 400
    assert message in answer_of(response, "/matches/{match_id}/review", "post")["message"]
    assert session.scalars(select(ReviewNote)).all() == []


def test_unknown_match_is_404(client: FlaskClient, desk: Desk) -> None:
    response = review(client, desk.tokens["desk"], 999_999, {"status": "reviewing"})
    assert response.status_code == 404
    assert (
        "list the profile's matches again"
        in answer_of(response, "/matches/{match_id}/review", "post")["message"]
    )


def test_the_api_needs_no_csrf_token_but_the_pages_still_do(
    client: FlaskClient, desk: Desk
) -> None:
    assert (
        review(client, desk.tokens["desk"], desk.matches[0], {"status": "reviewing"}).status_code
        == 200
    )
    assert client.post("/login", data={"email": "desk@example.org"}).status_code == 400


# --- the document ---------------------------------------------------------------------------
def test_the_desk_paths_need_the_bearer_scheme_and_the_public_ones_do_not() -> None:
    doc = openapi.document()
    assert doc["components"]["securitySchemes"]["deskToken"] == {
        **doc["components"]["securitySchemes"]["deskToken"], "type": "http", "scheme": "bearer",
    }  # fmt: skip
    for path, operations in doc["paths"].items():
        for operation in operations.values():
            secured = operation.get("security") == [{"deskToken": []}]
            assert secured == path.startswith(("/profiles", "/matches")), path
            assert ("401" in operation["responses"]) == secured, path
    example = doc["paths"]["/matches/{match_id}/review"]["post"]["requestBody"]["content"][
        "application/json"
    ]["example"]
    validator_for(doc, "components", "schemas", "ReviewChange").validate(example)


def test_the_staff_can_read_but_the_deactivated_admin_cannot(
    client: FlaskClient, session: Session, desk: Desk
) -> None:
    admin = session.get(User, desk.users["admin"].id)
    assert admin is not None
    admin.active = False
    session.commit()
    assert client.get("/api/v1/profiles", headers=auth(desk.tokens["admin"])).status_code == 401
    assert client.get("/api/v1/profiles", headers=auth(desk.tokens["staff"])).status_code == 200
