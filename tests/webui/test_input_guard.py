"""No input makes a page fail: control characters, huge numbers and overlong parameters get a
clear 400 (JSON under /api/) or a 404, and a sweep of arbitrary values over every route finds
no 500 (the test app raises instead of answering 500, so any error fails the test)."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from tests.storage.factories import make_call, make_profile
from tests.webui.logins import add_user, login

PARAMS = ("q", "page", "per_page", "source", "status", "funder_type", "applicant", "lang",
          "sort", "month", "stage", "deadline_before", "from", "to", "next", "profile")  # fmt: skip
TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=60) | st.sampled_from(
    ["\x00", "a\x00b", "1" * 30, "-1", "0", "9" * 25, "2026-13", "99999-01", "%", "' OR 1=1"]
)


def _get_rules(app: Flask) -> list[str]:
    """Every GET route that takes no more than path variables (static files aside)."""
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ()) and rule.endpoint != "static"
    )


def _url(rule: str, values: list[str], query: dict[str, str]) -> str:
    parts = rule.split("<")
    path = parts[0]
    for i, part in enumerate(parts[1:]):
        _, _, rest = part.partition(">")
        path += quote(values[i % len(values)] or "x", safe="") + rest
    return path + ("?" + urlencode(query) if query else "")


def test_control_characters_and_overlong_values_are_a_clear_400(
    client: FlaskClient, session: Session
) -> None:
    german = client.get("/?q=a%00b")
    assert german.status_code == 400 and "enthält ein Steuerzeichen" in german.get_data(
        as_text=True
    )
    client.set_cookie("lang", "en")
    for url in ("/?q=a%00b", "/?source=%00", "/calls.csv?q=%01"):
        response = client.get(url)
        assert response.status_code == 400, url
        assert "control character" in response.get_data(as_text=True)
    response = client.get("/?q=" + "Klima" * 10_000)
    assert response.status_code == 400
    assert "longer than 1000 characters" in response.get_data(as_text=True)
    api = client.get("/api/v1/calls?q=%00")
    assert api.status_code == 400 and "control character" in api.get_json()["message"]
    # A tab or a line break in a search is text, not an attack.
    assert client.get("/?q=Klima%09Schutz").status_code == 200


def test_the_login_and_a_desk_path_refuse_nul_before_any_query(
    client: FlaskClient, session: Session
) -> None:
    add_user(session, "desk@example.org", "desk")
    response = client.post("/login", data={"email": "desk\x00@example.org", "password": "x"})
    assert response.status_code == 400
    login(client, "desk@example.org")
    assert client.get("/desk/profiles/a%00b").status_code == 400


def test_an_id_no_column_can_hold_is_a_404_in_html_and_in_json(client: FlaskClient) -> None:
    assert client.get("/calls/99999999999999999999999").status_code == 404
    api = client.get("/api/v1/calls/99999999999999999999999")
    assert api.status_code == 404 and api.is_json
    wrong_method = client.delete("/api/v1/calls")
    assert wrong_method.status_code == 405 and wrong_method.is_json


@pytest.mark.parametrize("role", ["anonymous", "desk"])
def test_arbitrary_values_on_every_route_never_make_a_500(
    app: Flask, client: FlaskClient, session: Session, role: str
) -> None:
    make_call(session, title="Klimaschutz in Kommunen")
    make_profile(session, "klima")
    session.commit()
    if role == "desk":
        add_user(session, "desk@example.org", "desk")
        login(client, "desk@example.org")
    rules = _get_rules(app)
    assert len(rules) > 30  # the sweep reaches the whole app

    @settings(max_examples=250, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
    @given(
        rule=st.sampled_from(rules),
        values=st.lists(TEXT, min_size=1, max_size=3),
        query=st.dictionaries(st.sampled_from(PARAMS), TEXT, max_size=4),
    )
    def sweep(rule: str, values: list[str], query: dict[str, str]) -> None:
        response = client.get(_url(rule, values, query))
        assert response.status_code < 500, (rule, values, query)

    sweep()
