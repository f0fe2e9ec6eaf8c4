"""The API's OpenAPI 3.1 document, in Python so that its vocabularies and limits are the very
constants the code uses, and checked against ``parse_search_args`` so that no search
parameter can be left out or made up.

The document is English (it is for programs and their authors); the page at ``/api/v1/docs``
says the same in the reader's language.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from werkzeug.datastructures import MultiDict

from storage.call_filters import DEFAULT_STATUSES, SORTS
from storage.models import APPLICANT_TYPES, CALL_STATUSES, DEADLINE_MODELS, FUNDER_TYPES, LANGUAGES
from webui.api import desk_schema
from webui.search.params import MAX_PAGE, MAX_PER_PAGE, MAX_QUERY_LENGTH, parse_search_args

PREFIX = "/api/v1"
# The API's page size; the search page shows 25 (it does not read ``per_page``).
DEFAULT_PER_PAGE = 50
# ``parse_search_args``'s bound for ``min_grant`` (a literal there; a test holds the two together).
MAX_GRANT_EUR = 10**12
# ``parse_search_args`` cuts these free-text values to a length rather than refusing them.
MAX_PROGRAMME_LENGTH = 300
MAX_SOURCE_LENGTH = 64

Schema = dict[str, Any]

DATA_NOTE = (
    "The data comes from public sources; each call's `url` is its source, which is "
    "authoritative. EU Funding & Tenders Portal: © European Union, reused under the "
    "Commission's reuse policy. Förderdatenbank texts: © BMWE, CC BY-ND (shown unmodified, "
    "with a link). Name the source and link to it where you show a call."
)


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _or_null(schema: Schema) -> Schema:
    return {**schema, "type": [schema["type"], "null"]}


def _query(name: str, schema: Schema, description: str, **extra: Any) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description, **extra}  # fmt: skip


def _search_parameters() -> list[Schema]:
    """The parameters of ``GET /calls``: those of the search page, with its defaults."""
    return [
        _query("q", {"type": "string"},
               "Search text, German or English; answers are ranked by relevance to it and "
               f"carry a `score`. NUL bytes are removed; text beyond {MAX_QUERY_LENGTH} "
               "characters is ignored."),
        _query("status",
               {"type": "array", "items": {"type": "string", "enum": [*CALL_STATUSES, "all"]},
                "default": list(DEFAULT_STATUSES)},
               "Statuses to list; repeat the parameter for several (`status=open&status=closed`)"
               "; `all` lists every status.",
               style="form", explode=True),
        _query("applicant", {"type": "string", "enum": list(APPLICANT_TYPES)},
               "Only calls open to this kind of applicant."),
        _query("unstated", {"type": "boolean", "default": False},
               "With `applicant`: also calls that do not say who may apply. "
               "`1`, `true`, `on` and `yes` mean true; anything else false."),
        _query("funder_type", {"type": "string", "enum": list(FUNDER_TYPES)},
               "Only calls of this kind of funder."),
        _query("programme", {"type": "string"},
               "Only calls of this programme (its exact name, as in `programme`); text beyond "
               f"{MAX_PROGRAMME_LENGTH} characters is ignored."),
        _query("source", {"type": "string"},
               "Only calls from this source (its slug, as in `source`); text beyond "
               f"{MAX_SOURCE_LENGTH} characters is ignored."),
        _query("language", {"type": "string", "enum": list(LANGUAGES)},
               "Only calls written in this language."),
        _query("deadline_from", {"type": "string", "format": "date"},
               "Only calls whose next deadline is on this day or later (the service's time "
               "zone)."),
        _query("deadline_to", {"type": "string", "format": "date"},
               "Only calls whose next deadline is on this day or earlier (the service's time "
               "zone)."),
        _query("min_grant", {"type": "integer", "minimum": 0, "maximum": MAX_GRANT_EUR},
               "Only calls whose largest grant (or, without one, their budget) reaches this "
               "many euros."),
        _query("sort", {"type": "string", "enum": list(SORTS)},
               "Order: `relevance` (the default with `q`), `deadline` (soonest first, the "
               "default without `q`) or `newest` (first seen most recently)."),
        _query("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
               "The page of answers, counted from 1."),
        _query("per_page",
               {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE,
                "default": DEFAULT_PER_PAGE},
               "Calls per page."),
    ]  # fmt: skip


def _schemas() -> dict[str, Schema]:
    """The shapes of the answers: ``storage.serialize.call_to_dict`` field by field."""
    text = {"type": "string"}
    moment = {"type": "string", "format": "date-time"}
    euros = {"type": ["integer", "null"], "minimum": 0}
    deadline = {
        "type": "object",
        "description": "One deadline: a stage of a two-stage call, a cut-off, or a yearly date.",
        "required": ["due", "stage", "label", "recurring", "timezone"],
        "properties": {
            "due": _or_null(moment) | {"description": "Null for a yearly date (see `recurring`)."},
            "stage": text | {"description": "The stage or cut-off (`1`, `2`, …); may be empty."},
            "label": text,
            "recurring": {"type": ["string", "null"], "pattern": "^[0-9]{2}-[0-9]{2}$",
                          "description": "`MM-DD` of a deadline that recurs every year."},
            "timezone": text | {"description": "The time zone the source states the deadline in."},
        },
    }  # fmt: skip
    call = {
        "type": "object",
        "description": "A funding call. Fields may be added within version 1.",
        "required": [
            "id", "source", "source_id", "url", "title", "summary", "programme",
            "call_identifier", "funder", "funder_type", "language", "status", "deadline_model",
            "deadlines", "next_deadline", "eligible_applicants", "eligibility_inferred",
            "eligibility_evidence", "min_partners", "min_countries", "single_applicant",
            "eligible_countries", "germany_eligible",
            "budget_eur", "grant_min_eur", "grant_max_eur", "expected_grants", "funding_rate",
            "page_url", "first_seen", "last_seen", "last_changed", "details_missing",
        ],
        "properties": {
            "id": {"type": "integer", "description": "This service's id of the call."},
            "source": text | {"description": "Slug of the source the call was read from."},
            "source_id": text | {"description": "The call's id at its source."},
            "url": text | {"format": "uri", "description": "The call at its source."},
            "title": text,
            "summary": text | {"description": "A short plain-text summary; may be empty."},
            "programme": text,
            "call_identifier": text | {"description": "The funder's identifier; may be empty."},
            "funder": text,
            "funder_type": {"type": "string", "enum": list(FUNDER_TYPES)},
            "language": text | {"description": "Language of the call's text (`de`, `en`)."},
            "status": {"type": "string", "enum": list(CALL_STATUSES),
                       "description": "As of the request, derived from the dates."},
            "deadline_model": {"type": "string", "enum": list(DEADLINE_MODELS)},
            "deadlines": {"type": "array", "items": _ref("Deadline")},
            "next_deadline": _or_null(moment) | {
                "description": "The next deadline a new applicant can meet, or the last one."},
            "eligible_applicants": {
                "type": "array", "items": {"type": "string", "enum": list(APPLICANT_TYPES)},
                "description": "Who may apply; empty when the call does not say."},
            "eligibility_inferred": {
                "type": "boolean",
                "description": "True when `eligible_applicants` was read from the text."},
            "eligibility_evidence": {
                "type": "object",
                "additionalProperties": {"type": "string", "enum": ["stated", "inferred"]},
                "description": "Per applicant type: `stated` by the call's own text, or "
                               "`inferred` from the programme's rules."},
            "min_partners": {"type": ["integer", "null"], "minimum": 1,
                             "description": "Fewest partners a consortium needs; null if "
                                            "not stated."},
            "min_countries": {"type": ["integer", "null"], "minimum": 1,
                              "description": "Fewest countries a consortium spans; null if "
                                             "not stated."},
            "single_applicant": {"type": ["boolean", "null"],
                                 "description": "Whether one organisation may apply alone; "
                                                "null if not stated."},
            "eligible_countries": {"type": "array", "items": {"type": "string"},
                                   "description": "ISO 3166 codes of the eligible countries, "
                                                  "where stated."},
            "germany_eligible": {"type": ["boolean", "null"],
                                 "description": "Whether applicants from Germany are "
                                                "eligible; null if not stated."},
            "budget_eur": euros | {"description": "Total budget of the call in euros."},
            "grant_min_eur": euros | {"description": "Smallest grant per project in euros."},
            "grant_max_eur": euros | {"description": "Largest grant per project in euros."},
            "expected_grants": {"type": ["integer", "null"], "minimum": 0},
            "funding_rate": {"type": ["number", "null"],
                             "description": "Percent of the eligible costs funded."},
            "page_url": text | {"format": "uri",
                                "description": "This service's page for the call (absolute)."},
            "first_seen": moment,
            "last_seen": moment,
            "last_changed": moment,
            "details_missing": {"type": "boolean",
                                "description": "True while the source's details page for the "
                                               "call could not be read; fetched again on the "
                                               "next crawl."},
            "score": {"type": "number", "minimum": 0,
                      "description": "Relevance to `q`; only in answers to a search with `q`."},
        },
    }  # fmt: skip
    return {
        "Deadline": deadline,
        "Call": call,
        "CallList": {
            "type": "object",
            "description": "One page of the calls that match, and how many match in all.",
            "required": ["items", "total", "page", "per_page"],
            "properties": {
                "items": {"type": "array", "items": _ref("Call")},
                "total": {"type": "integer", "minimum": 0},
                "page": {"type": "integer", "minimum": 1},
                "per_page": {"type": "integer", "minimum": 1},
            },
        },
        "Error": {
            "type": "object",
            "description": "What went wrong; `message` is in English unless the request "
            "asks for German (`Accept-Language: de`).",
            "required": ["error", "message"],
            "properties": {"error": text, "message": text},
        },
    }


def _example_call() -> Schema:
    """One answer of ``GET /calls?q=Jugendaustausch&applicant=ngo``, shown on the docs page."""
    return {
        "id": 42, "source": "eu_funding_tenders", "source_id": "ERASMUS-YOUTH-2026-YOUTH-EX",
        "url": "https://ec.europa.eu/info/funding-tenders/opportunities/portal/screen/"
               "opportunities/topic-details/ERASMUS-YOUTH-2026-YOUTH-EX",
        "title": "Youth exchanges", "summary": "Meetings of groups of young people from at "
        "least two countries.", "programme": "Erasmus+", "call_identifier": "ERASMUS-2026",
        "funder": "European Commission", "funder_type": "eu", "language": "en",
        "status": "open", "deadline_model": "single",
        "deadlines": [{"due": "2026-10-01T10:00:00+00:00", "stage": "1", "label": "",
                       "recurring": None, "timezone": "Europe/Brussels"}],
        "next_deadline": "2026-10-01T10:00:00+00:00",
        "eligible_applicants": ["ngo", "public_body"], "eligibility_inferred": False,
        "eligibility_evidence": {"ngo": "stated", "public_body": "stated"},
        "min_partners": 2, "min_countries": 2, "single_applicant": False,
        "eligible_countries": [], "germany_eligible": True,
        "budget_eur": 2_500_000, "grant_min_eur": None, "grant_max_eur": 60_000,
        "expected_grants": None, "funding_rate": 80.0,
        "page_url": "https://foerderdesk.example.org/calls/42",
        "first_seen": "2025-11-20T06:00:12+00:00", "last_seen": "2026-02-02T06:00:09+00:00",
        "last_changed": "2025-12-01T06:00:31+00:00", "details_missing": False,
        "score": 0.4127,
    }  # fmt: skip


def _error(description: str) -> Schema:
    return {"description": description,
            "content": {"application/json": {"schema": _ref("Error")}}}  # fmt: skip


def _paths() -> dict[str, Schema]:
    example = _example_call()
    return {
        "/calls": {"get": {
            "operationId": "listCalls",
            "summary": "Search the calls",
            "description": "The calls the search page finds for the same parameters, with the "
            "same defaults: open and forthcoming calls, soonest deadline first, or ranked by "
            "relevance with `q`.",
            "parameters": _search_parameters(),
            "responses": {
                "200": {"description": "One page of matching calls.", "content": {
                    "application/json": {"schema": _ref("CallList"), "example": {
                        "items": [example], "total": 1, "page": 1,
                        "per_page": DEFAULT_PER_PAGE}}}},
                "400": _error("A parameter has an unknown value or is out of range."),
            },
        }},
        "/calls/{call_id}": {"get": {
            "operationId": "getCall",
            "summary": "One call",
            "parameters": [{"name": "call_id", "in": "path", "required": True,
                            "schema": {"type": "integer"}, "description": "The call's `id`."}],
            "responses": {
                "200": {"description": "The call, whatever its status.", "content": {
                    "application/json": {"schema": _ref("Call"), "example": {
                        k: v for k, v in example.items() if k != "score"}}}},
                "404": _error("No call has this id."),
            },
        }},
        "/openapi.json": {"get": {
            "operationId": "getOpenAPI",
            "summary": "This document",
            "responses": {"200": {"description": "The OpenAPI 3.1 document of this API.",
                                  "content": {"application/json": {"schema": {
                                      "type": "object"}}}}},
        }},
        "/docs": {"get": {
            "operationId": "getDocs",
            "summary": "The API described for people",
            "responses": {"200": {"description": "An HTML page, in German or English.",
                                  "content": {"text/html": {"schema": {"type": "string"}}}}},
        }},
    }  # fmt: skip


def build_document() -> Schema:
    """The whole document, freshly built and checked against ``parse_search_args``."""
    doc = {
        "openapi": "3.1.0",
        "info": {
            "title": "foerderdesk API",
            "version": "1",
            "summary": "Public funding calls, read-only, as the search page finds them; and "
            "the service desk's profiles, ranked calls and reviews.",
            "description": "The calls need no account or key. The desk API (`/profiles`, "
            "`/matches`) takes a token as `Authorization: Bearer <token>`. " + DATA_NOTE,
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "servers": [{"url": PREFIX}],
        "paths": {**_paths(), **desk_schema.paths()},
        "components": {
            "schemas": {**_schemas(), **desk_schema.schemas()},
            "securitySchemes": desk_schema.SECURITY_SCHEMES,
        },
    }
    check_parameters(doc)
    return doc


@cache
def document() -> Schema:
    """The document, built once per process (callers must not change it)."""
    return build_document()


class _ReadRecorder(MultiDict[str, str]):
    """An empty query string that notes each name it is asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def get(self, key: str, default: Any = None, type: Any = None) -> Any:
        self.names.add(key)
        return super().get(key, default, type)

    def getlist(self, key: str, type: Any = None) -> Any:
        self.names.add(key)
        return super().getlist(key, type)

    def __getitem__(self, key: str) -> Any:
        self.names.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.names.add(str(key))
        return super().__contains__(key)


def accepted_parameters() -> frozenset[str]:
    """The names ``parse_search_args`` reads, found by watching it read an empty query (so a
    parameter added there is noticed here without anyone remembering to)."""
    recorder = _ReadRecorder()
    parse_search_args(recorder, per_page=DEFAULT_PER_PAGE)
    return frozenset(recorder.names)


def documented_parameters(doc: Schema) -> list[Schema]:
    """The query parameters the document gives ``GET /calls``."""
    params: Iterable[Schema] = doc["paths"]["/calls"]["get"]["parameters"]
    return [p for p in params if p["in"] == "query"]


def check_parameters(doc: Schema) -> None:
    """Refuse a document whose search parameters are not exactly those the search reads."""
    documented = {p["name"] for p in documented_parameters(doc)}
    accepted = accepted_parameters()
    if documented != accepted:
        raise ValueError(
            "the OpenAPI document disagrees with parse_search_args: "
            f"undocumented {sorted(accepted - documented)}, unknown {sorted(documented - accepted)}"
        )
