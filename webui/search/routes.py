"""Public pages: search the stored calls, read one, take them away (no account needed)."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, current_app, render_template, request
from markupsafe import Markup

from matcher.search import (
    SearchIndex,
    SearchIndexHolder,
    SearchResult,
    highlight,
    search_calls,
)
from matcher.similar import similar_calls
from storage.deadlines import call_status, next_deadline
from storage.models import APPLICANT_TYPES, FUNDER_TYPES
from storage.queries import get_call, last_finished_run
from storage.sanitize import sanitize_html
from webui import change_history, formatting, labels
from webui.db import db_session
from webui.search.params import SearchArgs, parse_search_args

bp = Blueprint("search", __name__, template_folder="templates")
PER_PAGE = 25
SIMILAR = 5  # similar open calls under a call


def search_index(session) -> SearchIndex:  # type: ignore[no-untyped-def]
    """This process's search index, kept current with the stored calls."""
    holder: SearchIndexHolder = current_app.extensions["foerderdesk.search_index"]
    return holder.get(session)


def run_search(
    args: SearchArgs,
    *,
    page: int,
    per_page: int,
    facets: bool = False,
    now: datetime | None = None,
) -> SearchResult:
    """``args`` searched as every public view searches: this process's index, the request's
    session, the configured time zone (the page, the API and the exports cannot disagree)."""
    return search_calls(
        db_session(),
        args.filter,
        index=search_index,
        sort=args.sort,
        page=page,
        per_page=per_page,
        facets=facets,
        now=now,
        timezone=current_app.config["FOERDERDESK"].timezone,
    )


def request_base_url() -> str:
    """This site's address as the reader reached it, for absolute links in data."""
    return request.host_url.rstrip("/")


@bp.app_context_processor
def vocabulary() -> dict[str, object]:
    tz = current_app.config["FOERDERDESK"].timezone
    return {
        "labels": labels,
        "fmt": formatting,
        "local_tz": tz,
        "call_status": call_status,
        "next_deadline": next_deadline,
        "describe_change": change_history.describe,
    }


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    """The search page: open and forthcoming calls, ranked by a query when there is one."""
    args = parse_search_args(request.args, per_page=PER_PAGE)
    result = run_search(args, page=args.page, per_page=PER_PAGE, facets=True)
    model = search_index(db_session()).model if args.filter.text and result.hits else None

    def marked(text: str, hit, language: str):  # type: ignore[no-untyped-def]
        return highlight(text, hit.terms, model, language) if model else [(text, False)]

    return render_template(
        "search/index.html", args=args, result=result, marked=marked, options=_options(result)
    )


def _options(result: SearchResult) -> dict[str, list[tuple[str, str]]]:
    """The choices of each filter as (value, label): fixed vocabularies in their order,
    programmes and sources as the calls name them, most calls first."""

    def by_count(name: str) -> list[tuple[str, str]]:
        counted = result.facets.get(name, {})
        return [(v, v) for v in sorted(counted, key=lambda v: (-counted[v], v))]

    return {
        "applicant": [(a, labels.APPLICANT[a]) for a in APPLICANT_TYPES],
        "funder_type": [(f, labels.FUNDER_TYPE[f]) for f in FUNDER_TYPES],
        "programme": by_count("programme"),
        "source": by_count("source"),
        "language": list(labels.LANGUAGE.items()),
    }


@bp.get("/calls/<int:call_id>")
def show(call_id: int):  # type: ignore[no-untyped-def]
    session = db_session()
    call = get_call(session, call_id)
    if call is None:
        abort(404)
    # Sanitised when stored; cleaned again here so that no stored row can reach a reader raw.
    return render_template(
        "search/show.html",
        call=call,
        description=Markup(sanitize_html(call.description)),  # noqa: S704
        conditions=Markup(sanitize_html(call.conditions)),  # noqa: S704
        source_run=last_finished_run(session, call.source),
        similar=similar_calls(session, search_index(session), call.id, limit=SIMILAR),
    )
