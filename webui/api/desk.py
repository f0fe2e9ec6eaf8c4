"""The desk API: the profiles a token's user may read, their ranked calls, and the review
pipeline, for the city's own tools.

Token-authenticated (``webui.api.tokens``), JSON in and out. The rules are the pages': who may
read and change what is decided by ``storage.reviews``, and a change goes through
``update_review``, so it lands in the same timeline and queues the same re-rank. The routes
take no cookie, so they need no CSRF token and are exempt from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, abort, jsonify, request, url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _

from matcher.reasons import explanation_view
from storage.deadlines import call_status
from storage.desk import DeskRow, assignee_value, match_row, profile_by_slug, profile_rows
from storage.models import REVIEW_STATUSES, Profile, utcnow
from storage.reviews import MAX_NOTE_LENGTH, ReviewError, may_read, readable_profiles, update_review
from storage.serialize import call_page_url
from webui.api.tokens import api_user, token_required
from webui.db import db_session
from webui.i18n import current_language
from webui.search.routes import request_base_url

bp = Blueprint("desk", __name__)
NOT_RELEVANT = "not_relevant"
REVIEW_FIELDS = ("status", "note", "assignee")
MAX_ASSIGNEE_LENGTH = 200
TRUE_WORDS = frozenset({"1", "true", "on", "yes"})


@bp.record_once
def _exempt_from_csrf(state: BlueprintSetupState) -> None:
    app: Flask = state.app
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(bp)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def explanation(stored: dict[str, Any], lang: str) -> dict[str, Any]:
    """Why a call was ranked, in ``lang``: the view the pages and the emails render."""
    return explanation_view(stored or {}, lang).as_dict()


def profile_item(profile: Profile) -> dict[str, Any]:
    """A profile as the API shows it."""
    return {
        "slug": profile.slug,
        "name": profile.name,
        "kind": profile.kind,
        "applicant_type": profile.applicant_type,
        "department": profile.department,
        "legal_form": profile.legal_form,
        "language": profile.language,
        "themes": list(profile.themes or []),
        "keywords": list(profile.keywords or []),
        "matches_url": url_for("api.desk.profile_matches", slug=profile.slug, _external=True),
    }


def match_item(row: DeskRow, base_url: str, lang: str, now: datetime) -> dict[str, Any]:
    """A ranked call of a profile, with where the desk stands with it."""
    match, call = row.match, row.call
    assert match is not None  # only ranked rows are listed
    return {
        "id": match.id,
        "call_id": call.id,
        "profile": row.profile.slug,
        "title": call.title,
        "score": round(match.score, 4),
        "rank": match.rank,
        "review_status": row.status,
        "assignee": assignee_value(row.review) or None,
        "assignee_label": row.assignee or None,
        "explanation": explanation(match.explanation, lang),
        "eligibility_unknown": match.eligibility_unknown,
        "call_status": call_status(call, now),
        "next_deadline": _iso(row.due),
        "url": call.url,
        "page_url": call_page_url(base_url, call.id),
        "first_matched_at": _iso(match.first_matched_at),
    }


@bp.get("/profiles")
@token_required
def list_profiles():  # type: ignore[no-untyped-def]
    """The active profiles the token's user may read, projects first."""
    profiles = readable_profiles(db_session(), api_user())
    return jsonify({"items": [profile_item(p) for p in profiles]})


@bp.get("/profiles/<slug>/matches")
@token_required
def profile_matches(slug: str):  # type: ignore[no-untyped-def]
    """A profile's ranked calls, best first; not relevant ones only when asked for."""
    session = db_session()
    profile = profile_by_slug(session, slug)
    if profile is None:
        abort(404, description=_("No profile has the slug %(slug)s.", slug=slug))
    if not may_read(api_user(), profile):
        abort(403, description=_("This profile's calls are for the desk and its department."))
    with_hidden = request.args.get("include_not_relevant", "").strip().lower() in TRUE_WORDS
    now = utcnow()
    rows = [
        row
        for row in profile_rows(session, profile, now)
        if row.match is not None and (with_hidden or row.status != NOT_RELEVANT)
    ]
    base_url, lang = request_base_url(), current_language()
    return jsonify({"items": [match_item(row, base_url, lang, now) for row in rows]})


@dataclass(frozen=True)
class ReviewChange:
    """What a client asked to change; None leaves a field as it is."""

    status: str | None = None
    note: str | None = None
    assignee: str | None = None


def parse_review_change(body: Any) -> ReviewChange:
    """The change in a request body, or ``ValueError`` with a message for the client."""
    if not isinstance(body, dict):
        raise ValueError(_('The body must be a JSON object, such as {"status": "reviewing"}.'))
    unknown = sorted(set(body) - set(REVIEW_FIELDS))
    if unknown:
        raise ValueError(
            _("Unknown field(s) %(fields)s; a review takes status, note and assignee.",
              fields=", ".join(unknown))
        )  # fmt: skip
    values = {}
    for name in REVIEW_FIELDS:
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise ValueError(_("%(field)s must be a string.", field=name))
        values[name] = value
    if all(value is None for value in values.values()):
        raise ValueError(_("Nothing to change: send status, note or assignee."))
    if values["status"] is not None and values["status"] not in REVIEW_STATUSES:
        raise ValueError(
            _("Unknown status %(status)s; use one of %(known)s.", status=repr(values["status"]),
              known=", ".join(REVIEW_STATUSES))
        )  # fmt: skip
    if values["note"] is not None and len(values["note"].strip()) > MAX_NOTE_LENGTH:
        raise ValueError(_("A note has at most %(n)s characters.", n=MAX_NOTE_LENGTH))
    if values["assignee"] is not None and len(values["assignee"]) > MAX_ASSIGNEE_LENGTH:
        raise ValueError(_("An assignee has at most %(n)s characters.", n=MAX_ASSIGNEE_LENGTH))
    return ReviewChange(**values)


@bp.post("/matches/<int:match_id>/review")
@token_required
def review_match(match_id: int):  # type: ignore[no-untyped-def]
    """Change a match's review (status, assignee, a note) as the pages do; answers the match."""
    session = db_session()
    now = utcnow()
    row = match_row(session, match_id, now)
    if row is None:
        # Re-ranking gives matches new ids: the message says what to do.
        message = _("No match has the id %(id)s; list the profile's matches again.", id=match_id)
        abort(404, description=message)
    try:
        change = parse_review_change(request.get_json(force=True, silent=True))
    except ValueError as exc:
        abort(400, description=str(exc))
    try:
        update_review(session, api_user(), row.profile, row.call.id, status=change.status,
                      assignee=change.assignee, note=change.note)  # fmt: skip
    except PermissionError:
        session.rollback()
        abort(403, description=_("Your role may not make this change."))
    except ReviewError as exc:
        session.rollback()
        abort(400, description=str(exc))
    session.commit()
    updated = match_row(session, match_id, now)
    assert updated is not None
    return jsonify(match_item(updated, request_base_url(), current_language(), now))
