"""The JSON API, version 1."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, request

from storage.models import APPLICANT_TYPES, CALL_STATUSES
from storage.queries import CallFilter, get_call, search_calls
from storage.serialize import call_to_dict
from webui.app import db_session

bp = Blueprint("api", __name__, url_prefix="/api/v1")
MAX_PAGE_SIZE = 200


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(400, description=f"'{name}' must be a whole number, not {raw!r}")
    if not low <= value <= high:
        abort(400, description=f"'{name}' must be between {low} and {high}")
    return value


@bp.get("/calls")
def list_calls():  # type: ignore[no-untyped-def]
    """Calls, soonest deadline first. Filters: q, status (repeatable), source, applicant."""
    statuses = request.args.getlist("status")
    bad = [s for s in statuses if s not in CALL_STATUSES]
    if bad:
        abort(400, description=f"unknown status {bad[0]!r}; use one of {', '.join(CALL_STATUSES)}")
    applicant = request.args.get("applicant", "")
    if applicant and applicant not in APPLICANT_TYPES:
        abort(400, description=f"unknown applicant type {applicant!r}")
    per_page = _int_arg("per_page", 50, 1, MAX_PAGE_SIZE)
    page = _int_arg("page", 1, 1, 100_000)
    flt = CallFilter(
        text=request.args.get("q", "").strip(),
        statuses=statuses,
        source=request.args.get("source", ""),
        applicant_type=applicant,
    )
    calls, total = search_calls(db_session(), flt, limit=per_page, offset=(page - 1) * per_page)
    return jsonify(
        {
            "total": total,
            "page": page,
            "per_page": per_page,
            "calls": [call_to_dict(c) for c in calls],
        }
    )


@bp.get("/calls/<int:call_id>")
def show_call(call_id: int):  # type: ignore[no-untyped-def]
    call = get_call(db_session(), call_id)
    if call is None:
        abort(404, description=f"no call with id {call_id}")
    return jsonify(call_to_dict(call))


@bp.errorhandler(400)
@bp.errorhandler(404)
def json_error(error):  # type: ignore[no-untyped-def]
    return jsonify({"error": error.name, "message": error.description}), error.code
