"""The public JSON API, version 1: the search page's calls, as data."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request

from matcher.search import Hit, search_calls
from storage.queries import get_call
from storage.serialize import call_to_dict
from webui.db import db_session
from webui.search.params import parse_search_args
from webui.search.routes import search_index

bp = Blueprint("api", __name__, url_prefix="/api/v1")
DEFAULT_PER_PAGE = 50


def _item(hit: Hit, base_url: str) -> dict[str, Any]:
    item = call_to_dict(hit.call, base_url=base_url)
    if hit.score is not None:
        item["score"] = round(hit.score, 4)
    return item


def _base_url() -> str:
    return request.host_url.rstrip("/")


@bp.get("/calls")
def list_calls():  # type: ignore[no-untyped-def]
    """Calls as the search page finds them: the same parameters and defaults (open and
    forthcoming; ranked by relevance with ``q``, soonest deadline first without)."""
    args = parse_search_args(request.args, per_page=DEFAULT_PER_PAGE)
    if args.errors:
        abort(400, description="; ".join(args.errors.values()))
    result = search_calls(
        db_session(),
        args.filter,
        index=search_index,
        sort=args.sort,
        page=args.page,
        per_page=args.per_page,
        timezone=current_app.config["FOERDERDESK"].timezone,
    )
    base_url = _base_url()
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
    call = get_call(db_session(), call_id)
    if call is None:
        abort(404, description=f"no call with id {call_id}")
    return jsonify(call_to_dict(call, base_url=_base_url()))
