"""The service desk's view of the matches: calls ranked for each project and partner."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from sqlalchemy import select

from matcher.explain import explanation_lines
from storage.matching import latest_match_run, match_counts_by_profile, matches_for_profile
from storage.models import Profile
from webui.auth import roles_required
from webui.db import db_session
from webui.i18n import current_language

bp = Blueprint("profiles", __name__, url_prefix="/profiles")
DESK_ROLES = ("admin", "desk", "staff")


@bp.get("/")
@roles_required(*DESK_ROLES)
def index():  # type: ignore[no-untyped-def]
    session = db_session()
    profiles = session.scalars(
        select(Profile).where(Profile.active).order_by(Profile.kind.desc(), Profile.name)
    ).all()
    counts = match_counts_by_profile(session)
    return render_template(
        "profiles/index.html", profiles=profiles, counts=counts, run=latest_match_run(session)
    )


@bp.get("/<slug>")
@roles_required(*DESK_ROLES)
def show(slug: str):  # type: ignore[no-untyped-def]
    session = db_session()
    profile = session.scalar(select(Profile).where(Profile.slug == slug))
    if profile is None:
        abort(404)
    matches = matches_for_profile(session, profile.id, limit=50)
    return render_template(
        "profiles/show.html",
        profile=profile,
        matches=matches,
        lines={m.id: explanation_lines(m.explanation, current_language()) for m in matches},
    )
