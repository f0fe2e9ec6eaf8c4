"""The OpenAPI document tells the truth: it is valid OpenAPI 3.1, real answers match its
schemas, it lists exactly the API's routes and the search's parameters, and the docs page
explains every one of them."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from storage.models import CallDeadline
from tests.storage.factories import make_call
from webui.api import openapi
from webui.search.params import parse_search_args

DOC_URI = "urn:foerderdesk:api:v1:openapi"


def soon(days: int) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


@pytest.fixture
def doc() -> dict[str, Any]:
    return copy.deepcopy(openapi.document())


@pytest.fixture
def calls(session: Session) -> dict[str, int]:
    """Calls that use every kind of field value: nulls and numbers, yearly and dated deadlines."""
    youth = make_call(
        session,
        title="Youth exchanges between Poland and Germany",
        language="en",
        summary="Mobility of young people and youth workers.",
        status="open",
        deadlines=[soon(40), soon(90)],
        deadline_model="two_stage",
        eligible_applicants=["ngo"],
        funder="European Commission",
        funder_type="eu",
        programme="Erasmus+",
        budget_eur=2_000_000,
        grant_max_eur=60_000,
        funding_rate=80.0,
        expected_grants=30,
    )
    yearly = make_call(
        session,
        title="Kulturförderung der Stiftung",
        language="de",
        funder_type="foundation",
        summary="",
        deadline_model="recurring",
        eligible_applicants=[],
    )
    yearly.deadlines.append(CallDeadline(due_at=None, recurring_month_day="09-30"))
    closed = make_call(session, title="Quantum computing", status="closed", deadlines=[soon(-9)])
    session.commit()
    return {"youth": youth.id, "yearly": yearly.id, "closed": closed.id}


# --- helpers ------------------------------------------------------------------------------
def _pointer(*parts: str) -> str:
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def validator_for(doc: dict[str, Any], *parts: str) -> Draft202012Validator:
    """A Draft 2020-12 validator for the schema at ``parts`` in ``doc``; its ``$ref``s resolve
    into the document's ``components``."""
    registry = Registry().with_resource(
        DOC_URI, Resource.from_contents(doc, default_specification=DRAFT202012)
    )
    return Draft202012Validator(
        {"$ref": f"{DOC_URI}#{_pointer(*parts)}"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def response_validator(doc: dict[str, Any], path: str, status: int) -> Draft202012Validator:
    responses = doc["paths"][path]["get"]["responses"]
    assert str(status) in responses, f"{path} answers {status}, which is not documented"
    return validator_for(
        doc, "paths", path, "get", "responses", str(status), "content", "application/json",
        "schema",
    )  # fmt: skip


def assert_answer_matches(
    client: FlaskClient, doc: dict[str, Any], url: str, path: str, status: int = 200
) -> Any:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    response_validator(doc, path, status).validate(body)
    return body


def call_fields(doc: dict[str, Any]) -> set[str]:
    return set(doc["components"]["schemas"]["Call"]["properties"])


def assert_every_field_documented(doc: dict[str, Any], item: dict[str, Any], scored: bool) -> None:
    """The schema leaves room for fields added later, so closeness is checked here instead."""
    assert set(item) == call_fields(doc) - (set() if scored else {"score"})
    deadline_fields = set(doc["components"]["schemas"]["Deadline"]["properties"])
    assert all(set(d) == deadline_fields for d in item["deadlines"])


# --- the document itself ---------------------------------------------------------------------
def test_document_is_valid_openapi_3_1(client: FlaskClient) -> None:
    served = client.get("/api/v1/openapi.json")
    assert served.status_code == 200
    body = served.get_json()
    assert body["openapi"].startswith("3.1")
    validate(body)
    assert body == openapi.document()


def test_a_broken_document_is_refused(doc: dict[str, Any]) -> None:
    doc["paths"]["/calls"]["get"]["parameters"][0]["in"] = "body"  # OpenAPI 2, not 3
    with pytest.raises(OpenAPIValidationError):
        validate(doc)


def test_examples_match_their_schemas_and_show_every_field(doc: dict[str, Any]) -> None:
    listing = doc["paths"]["/calls"]["get"]["responses"]["200"]["content"]["application/json"]
    response_validator(doc, "/calls", 200).validate(listing["example"])
    assert_every_field_documented(doc, listing["example"]["items"][0], scored=True)
    one = doc["paths"]["/calls/{call_id}"]["get"]["responses"]["200"]["content"]
    response_validator(doc, "/calls/{call_id}", 200).validate(one["application/json"]["example"])


def test_every_field_but_score_is_required(doc: dict[str, Any]) -> None:
    call = doc["components"]["schemas"]["Call"]
    assert set(call["required"]) == call_fields(doc) - {"score"}


# --- real answers --------------------------------------------------------------------------
def test_list_without_query_matches_the_document(
    client: FlaskClient, doc: dict[str, Any], calls: dict[str, int]
) -> None:
    body = assert_answer_matches(client, doc, "/api/v1/calls", "/calls")
    assert {item["id"] for item in body["items"]} == {calls["youth"], calls["yearly"]}
    assert body["per_page"] == openapi.DEFAULT_PER_PAGE
    for item in body["items"]:
        assert_every_field_documented(doc, item, scored=False)
        assert item["page_url"].startswith("http://localhost/calls/")
    yearly = next(item for item in body["items"] if item["id"] == calls["yearly"])
    assert yearly["deadlines"][0]["due"] is None
    assert yearly["deadlines"][0]["recurring"] == "09-30"


def test_list_with_query_has_scores_that_match_the_document(
    client: FlaskClient, doc: dict[str, Any], calls: dict[str, int]
) -> None:
    body = assert_answer_matches(client, doc, "/api/v1/calls?q=Jugendaustausch", "/calls")
    assert body["items"][0]["id"] == calls["youth"]
    for item in body["items"]:
        assert_every_field_documented(doc, item, scored=True)


def test_list_with_every_filter_matches_the_document(
    client: FlaskClient, doc: dict[str, Any], calls: dict[str, int]
) -> None:
    url = (
        "/api/v1/calls?applicant=ngo&unstated=1&funder_type=eu&programme=Erasmus%2B"
        "&source=test_source&language=en&min_grant=1000&status=open&status=forthcoming"
        f"&deadline_from={soon(1):%Y-%m-%d}&deadline_to={soon(60):%Y-%m-%d}&sort=newest"
    )
    body = assert_answer_matches(client, doc, url, "/calls")
    assert [item["id"] for item in body["items"]] == [calls["youth"]]
    everything = assert_answer_matches(client, doc, "/api/v1/calls?status=all", "/calls")
    assert everything["total"] == 3


def test_second_page_matches_the_document(
    client: FlaskClient, doc: dict[str, Any], calls: dict[str, int]
) -> None:
    body = assert_answer_matches(client, doc, "/api/v1/calls?per_page=1&page=2", "/calls")
    assert (body["page"], body["per_page"], body["total"], len(body["items"])) == (2, 1, 2, 1)


def test_one_call_matches_the_document(
    client: FlaskClient, doc: dict[str, Any], calls: dict[str, int]
) -> None:
    for call_id in calls.values():
        item = assert_answer_matches(client, doc, f"/api/v1/calls/{call_id}", "/calls/{call_id}")
        assert_every_field_documented(doc, item, scored=False)


def test_errors_match_the_document(client: FlaskClient, doc: dict[str, Any]) -> None:
    missing = assert_answer_matches(client, doc, "/api/v1/calls/999999", "/calls/{call_id}", 404)
    assert "999999" in missing["message"]
    for bad in ("page=0", "per_page=201", "status=maybe", "deadline_to=soon", "sort=random"):
        body = assert_answer_matches(client, doc, f"/api/v1/calls?{bad}", "/calls", 400)
        assert bad.split("=")[0] in body["message"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("grant_max_eur", "lots"),
        ("status", "maybe"),
        ("next_deadline", "next Tuesday"),
        ("eligible_applicants", ["aliens"]),
        ("deadlines", [{"due": None}]),
        ("title", None),
    ],
)
def test_a_broken_item_does_not_match(
    client: FlaskClient, doc: dict[str, Any], calls: dict[str, int], field: str, value: Any
) -> None:
    body = client.get("/api/v1/calls").get_json()
    validator = response_validator(doc, "/calls", 200)
    validator.validate(body)
    body["items"][0][field] = value
    with pytest.raises(ValidationError):
        validator.validate(body)
    del body["items"][0][field]
    with pytest.raises(ValidationError):
        validator.validate(body)


# --- routes and parameters ----------------------------------------------------------------
def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.removeprefix(openapi.PREFIX))


def test_every_api_route_is_documented_and_every_documented_path_exists(
    app: Flask, doc: dict[str, Any]
) -> None:
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(openapi.PREFIX + "/"):
            methods = {m.lower() for m in rule.methods or ()} - {"head", "options"}
            routes.setdefault(_openapi_path(rule.rule), set()).update(methods)
    assert routes, "no API routes found: the prefix is wrong"
    assert {path: set(ops) for path, ops in doc["paths"].items()} == routes


def test_every_search_parameter_is_documented(doc: dict[str, Any]) -> None:
    documented = {p["name"] for p in openapi.documented_parameters(doc)}
    assert documented == openapi.accepted_parameters()
    assert {"q", "status", "page", "per_page"} <= documented


def test_a_missing_or_made_up_parameter_is_refused(doc: dict[str, Any]) -> None:
    params = doc["paths"]["/calls"]["get"]["parameters"]
    params.append({"name": "colour", "in": "query", "schema": {"type": "string"}})
    with pytest.raises(ValueError, match="unknown \\['colour'\\]"):
        openapi.check_parameters(doc)
    params[:] = [p for p in params if p["name"] not in {"colour", "min_grant"}]
    with pytest.raises(ValueError, match="undocumented \\['min_grant'\\]"):
        openapi.check_parameters(doc)


def test_a_parameter_added_to_the_search_but_not_the_document_is_caught(
    doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As if someone taught ``parse_search_args`` a new parameter and forgot the document."""

    def with_region(args: MultiDict[str, str], *, per_page: int = 25) -> Any:
        args.get("region", "")
        return parse_search_args(args, per_page=per_page)

    monkeypatch.setattr(openapi, "parse_search_args", with_region)
    assert "region" in openapi.accepted_parameters()
    with pytest.raises(ValueError, match="undocumented \\['region'\\]"):
        openapi.check_parameters(doc)
    with pytest.raises(ValueError, match="undocumented \\['region'\\]"):
        openapi.build_document()


def _errors(name: str, value: Any) -> dict[str, str]:
    values = value if isinstance(value, list) else [value]
    args = MultiDict([(name, str(v)) for v in values])
    return parse_search_args(args, per_page=openapi.DEFAULT_PER_PAGE).errors


def test_documented_values_and_limits_are_the_searchs(app: Flask, doc: dict[str, Any]) -> None:
    checked = 0
    with app.test_request_context():
        for param in openapi.documented_parameters(doc):
            name, schema = param["name"], param["schema"]
            values = schema.get("items", schema)
            if "enum" in values:
                assert all(not _errors(name, v) for v in values["enum"]), name
                assert name in _errors(name, "not-a-" + name)
                checked += 1
            if "maximum" in values:
                low, high = values["minimum"], values["maximum"]
                assert not _errors(name, low) and not _errors(name, high), name
                assert name in _errors(name, low - 1) and name in _errors(name, high + 1), name
                checked += 1
            if values.get("format") == "date":
                assert not _errors(name, "2028-02-29") and name in _errors(name, "2027-02-29")
                checked += 1
    assert checked >= 9


def test_documented_defaults_are_the_searchs(doc: dict[str, Any]) -> None:
    parsed = parse_search_args(MultiDict(), per_page=openapi.DEFAULT_PER_PAGE)
    actual = {
        "status": list(parsed.filter.statuses),
        "unstated": parsed.filter.include_unstated,
        "page": parsed.page,
        "per_page": parsed.per_page,
    }
    documented = {
        p["name"]: p["schema"]["default"]
        for p in openapi.documented_parameters(doc)
        if "default" in p["schema"]
    }
    assert documented == actual


# --- the page for people -------------------------------------------------------------------
class _Rows(HTMLParser):
    """The text of each table row's cells, by the row's id."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self._row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self._row = self.rows.setdefault(dict(attrs).get("id") or f"_{len(self.rows)}", [])
        elif tag in {"td", "th"} and self._row is not None:
            self._row.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._row:
            self._row[-1] += data.strip()


@pytest.mark.parametrize("language", ["de", "en"])
def test_docs_page_explains_every_path_parameter_and_field(
    client: FlaskClient, doc: dict[str, Any], language: str
) -> None:
    response = client.get("/api/v1/docs", headers={"Accept-Language": language})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f'<html lang="{language}">' in page
    for path, operations in doc["paths"].items():
        for method in operations:
            assert f"<code>{method.upper()} {openapi.PREFIX}{path}</code>" in page
    assert 'href="/api/v1/openapi.json"' in page
    assert "curl &#39;http://localhost/api/v1/calls?q=" in page
    rows = _Rows()
    rows.feed(page)
    for param in openapi.documented_parameters(doc):
        name, meaning, default, allowed = rows.rows[f"param-{param['name']}"]
        assert name == param["name"] and meaning and default and allowed, param["name"]
    for field in call_fields(doc):
        name, _type, meaning = rows.rows[f"field-{field}"]
        assert name == field and meaning, field
    assert "<script" not in page and "style=" not in page
