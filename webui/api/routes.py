"""The public JSON API, version 1: the search page's calls as data, the OpenAPI document that
describes them, and a page that explains both to people."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, jsonify, render_template, request, url_for

from matcher.search import Hit
from storage.models import REVIEW_STATUSES
from storage.queries import get_call
from storage.serialize import call_to_dict
from webui.api import openapi
from webui.db import db_session
from webui.search.params import MAX_QUERY_LENGTH, parse_search_args
from webui.search.routes import request_base_url, run_search

bp = Blueprint("api", __name__, url_prefix=openapi.PREFIX, template_folder="templates")
# The search the docs page shows as its example (its answer is the document's example).
EXAMPLE_QUERY = {"q": "Jugendaustausch", "applicant": "ngo"}


def _item(hit: Hit, base_url: str) -> dict[str, Any]:
    item = call_to_dict(hit.call, base_url=base_url)
    if hit.score is not None:
        item["score"] = round(hit.score, 4)
    return item


@bp.get("/calls")
def list_calls():  # type: ignore[no-untyped-def]
    """Calls as the search page finds them: the same parameters and defaults (open and
    forthcoming; ranked by relevance with ``q``, soonest deadline first without)."""
    args = parse_search_args(request.args, per_page=openapi.DEFAULT_PER_PAGE)
    if args.errors:
        abort(400, description="; ".join(args.errors.values()))
    result = run_search(args, page=args.page, per_page=args.per_page)
    base_url = request_base_url()
    return jsonify(
        {
            "items": [_item(hit, base_url) for hit in result.hits],
            "total": result.total,
            "page": result.page,
            "per_page": result.per_page,
        }
    )


@bp.get("/calls/<int:call_id>")
def show_call(call_id: int):  # type: ignore[no-untyped-def]
    """One call, whatever its status, so that a stored link keeps working after it closes."""
    call = get_call(db_session(), call_id)
    if call is None:
        abort(404, description=f"no call with id {call_id}")
    return jsonify(call_to_dict(call, base_url=request_base_url()))


@bp.get("/openapi.json")
def openapi_document():  # type: ignore[no-untyped-def]
    """The machine-readable description, for client generators and validators."""
    return jsonify(openapi.document())


@bp.get("/docs")
def docs():  # type: ignore[no-untyped-def]
    """The API explained to people, in their language; names, defaults and the example come
    from the OpenAPI document, so the page cannot describe another API."""
    doc = openapi.document()
    schemas = doc["components"]["schemas"]
    listing = doc["paths"]["/calls"]["get"]
    example = listing["responses"]["200"]["content"]["application/json"]["example"]
    return render_template(
        "api/docs.html",
        endpoints=[
            (method.upper(), openapi.PREFIX + path)
            for path, operations in doc["paths"].items()
            for method in operations
        ],
        parameters=[_parameter_row(p) for p in openapi.documented_parameters(doc)],
        fields=[
            {"name": name, "type": _type_label(schema), "values": _values(schema)}
            for name, schema in schemas["Call"]["properties"].items()
        ],
        deadline_fields=list(schemas["Deadline"]["properties"]),
        max_query_length=MAX_QUERY_LENGTH,
        review_statuses=REVIEW_STATUSES,
        curl=f"curl '{url_for('api.list_calls', _external=True, **EXAMPLE_QUERY)}'",
        example=json.dumps(example, indent=2, ensure_ascii=False),
    )


def _parameter_row(param: dict[str, Any]) -> dict[str, str]:
    """A parameter as the docs page's table shows it: name, default and allowed values."""
    schema = param["schema"]
    values = schema.get("items", schema)
    if "enum" in values:
        allowed = ", ".join(values["enum"])
    elif "minimum" in values and "maximum" in values:
        # A narrow no-break space groups the digits and keeps the number on one line.
        allowed = f"{values['minimum']} – {values['maximum']:_}".replace("_", "\u202f")
    elif values.get("format") == "date":
        allowed = "YYYY-MM-DD"
    elif values["type"] == "boolean":
        allowed = "true, false"
    else:
        allowed = ""
    default = schema.get("default", "")
    if isinstance(default, list):
        default = ", ".join(default)
    elif isinstance(default, bool):
        default = json.dumps(default)
    return {"name": param["name"], "default": str(default), "allowed": allowed}


def _values(schema: dict[str, Any]) -> str:
    """A field's vocabulary, if it has one (``eu, federal, …``)."""
    return ", ".join(schema.get("items", schema).get("enum", []))


def _type_label(schema: dict[str, Any]) -> str:
    """A field's JSON type in JSON Schema's words: ``string (date-time) | null``, ``array
    (object)``; they are names, not prose, so they are not translated."""
    if "$ref" in schema:
        return "object"
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    words = []
    for kind in types:
        if kind == "array":
            words.append(f"array ({_type_label(schema['items'])})")
        elif kind != "null" and "format" in schema:
            words.append(f"{kind} ({schema['format']})")
        else:
            words.append(kind)
    return " | ".join(words)
