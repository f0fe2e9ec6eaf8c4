"""Public pages: search and read the stored calls (no account needed)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from markupsafe import Markup

from storage.deadlines import call_status, next_deadline
from storage.models import APPLICANT_TYPES
from storage.queries import CallFilter, get_call, search_calls
from storage.sanitize import sanitize_html
from webui.app import db_session

bp = Blueprint("calls", __name__)
PER_PAGE = 25

STATUS_LABELS = {
    "open": "offen",
    "forthcoming": "demnächst",
    "closed": "geschlossen",
    "withdrawn": "zurückgezogen",
}
APPLICANT_LABELS = {
    "municipality": "Kommune",
    "public_body": "Öffentliche Einrichtung",
    "ngo": "Verein / NGO",
    "company": "Unternehmen / KMU",
    "research": "Hochschule / Forschung",
    "education": "Bildungseinrichtung",
    "individual": "Privatperson",
}


@bp.app_context_processor
def labels() -> dict[str, object]:
    return {
        "status_labels": STATUS_LABELS,
        "applicant_labels": APPLICANT_LABELS,
        "call_status": call_status,
        "next_deadline": next_deadline,
    }


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    """The list of calls, open and forthcoming first, with a simple search."""
    q = request.args.get("q", "").strip()
    status = request.args.get("status", "open")
    applicant = request.args.get("applicant", "")
    if applicant not in APPLICANT_TYPES:
        applicant = ""
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    statuses = {"open": ["open", "forthcoming"], "all": []}.get(status, [status])
    flt = CallFilter(text=q, statuses=statuses, applicant_type=applicant)
    calls, total = search_calls(db_session(), flt, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    pages = max(1, -(-total // PER_PAGE))
    return render_template(
        "calls/index.html",
        calls=calls,
        total=total,
        q=q,
        status=status,
        applicant=applicant,
        page=page,
        pages=pages,
    )


@bp.get("/calls/<int:call_id>")
def show(call_id: int):  # type: ignore[no-untyped-def]
    call = get_call(db_session(), call_id)
    if call is None:
        abort(404)
    # Sanitised when stored; cleaned again here so that no stored row can reach a reader raw.
    return render_template(
        "calls/show.html",
        call=call,
        description=Markup(sanitize_html(call.description)),  # noqa: S704
        conditions=Markup(sanitize_html(call.conditions)),  # noqa: S704
    )
