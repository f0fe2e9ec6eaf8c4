"""Downloads of the public search: CSV, Atom and iCalendar for any search, .ics per call.

They take exactly the search page's parameters (one parser, so the same defaults) and
return the whole result up to :data:`MAX_EXPORT` calls, in the search's order.
"""

from __future__ import annotations

from datetime import datetime

from flask import Response, abort, current_app, request, url_for
from flask_babel import gettext as _

from storage.models import FundingCall, utcnow
from storage.queries import get_call
from webui.db import db_session
from webui.i18n import current_language
from webui.search.exports import calls_atom, calls_csv, calls_ics, export_filename
from webui.search.params import SearchArgs, parse_search_args
from webui.search.routes import bp, request_base_url, run_search

MAX_EXPORT = 2000  # calls per download; a desk's calendar, not a dump of the database
CSV_TYPE = "text/csv; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
ICS_TYPE = "text/calendar; charset=utf-8"


def _timezone() -> str:
    return current_app.config["FOERDERDESK"].timezone


def _search(now: datetime) -> tuple[SearchArgs, list[FundingCall], int]:
    """The request's search, read as the search page reads it, and its calls (all of them
    up to the cap) with the number found; 400 on a parameter it cannot read."""
    args = parse_search_args(request.args)
    if args.errors:
        abort(400, description="; ".join(args.errors.values()))
    result = run_search(args, page=1, per_page=MAX_EXPORT, now=now)
    return args, [hit.call for hit in result.hits], result.total


def _title(args: SearchArgs) -> str:
    if args.filter.text:
        return _("Funding calls: %(query)s", query=args.filter.text)
    return _("Funding calls")


def _download(body: bytes, mimetype: str, filename: str, total: int | None = None) -> Response:
    response = Response(body, content_type=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    if total is not None:
        # The number found, so a client can tell when the cap cut the download short.
        response.headers["X-Total-Count"] = str(total)
    return response


def _search_filename(args: SearchArgs, extension: str, now: datetime) -> str:
    return export_filename(args.filter.text or _("calls"), extension, now)


@bp.get("/calls.csv")
def export_csv():  # type: ignore[no-untyped-def]
    """The search's calls as a table for a proposal calendar."""
    now = utcnow()
    args, calls, total = _search(now)
    body = calls_csv(
        calls,
        base_url=request_base_url(),
        timezone=_timezone(),
        language=current_language(),
        now=now,
    )
    return _download(body, CSV_TYPE, _search_filename(args, "csv", now), total)


@bp.get("/calls.atom")
def feed():  # type: ignore[no-untyped-def]
    """The search's calls as an Atom feed, to follow in a feed reader."""
    now = utcnow()
    args, calls, total = _search(now)
    body = calls_atom(
        calls,
        base_url=request_base_url(),
        feed_url=request.url,
        page_url=url_for("search.index", _external=True, **args.query_string(page="")),
        title=_title(args),
        timezone=_timezone(),
        language=current_language(),
        now=now,
    )
    return _download(body, ATOM_TYPE, _search_filename(args, "atom", now), total)


@bp.get("/calls.ics")
def export_ics():  # type: ignore[no-untyped-def]
    """Every deadline stage of the search's calls as calendar events."""
    now = utcnow()
    args, calls, total = _search(now)
    body = calls_ics(calls, base_url=request_base_url(), name=_title(args), now=now)
    return _download(body, ICS_TYPE, _search_filename(args, "ics", now), total)


@bp.get("/calls/<int:call_id>.ics")
def call_ics(call_id: int):  # type: ignore[no-untyped-def]
    """Every deadline stage of one call as calendar events, closed calls included."""
    call = get_call(db_session(), call_id)
    if call is None:
        abort(404)
    body = calls_ics([call], base_url=request_base_url(), name=call.title)
    return _download(body, ICS_TYPE, export_filename(f"{call.id} {call.title}", "ics"))
