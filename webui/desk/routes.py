"""The service desk's pages: the dashboard, a profile's calls, a call's profiles, one match.

Views stay thin: they read the request through a form, ask ``storage.desk`` or
``storage.reviews`` with the request's session, commit what changed, and render. Who may
read or change what is decided in ``storage.reviews``; a refusal becomes a 403 here.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from storage import desk
from storage.matching import latest_match_run
from storage.models import Profile, ReviewNote, User, utcnow
from storage.queries import get_call
from storage.reviews import (
    ReviewError,
    may_comment,
    may_edit,
    may_read,
    timeline,
    update_review,
)
from storage.work_queue import waiting_rematches
from webui.auth import roles_required
from webui.db import db_session
from webui.desk.explanations import explain
from webui.desk.forms import BulkForm, ProfileFilterForm, ReviewForm

bp = Blueprint("desk", __name__, url_prefix="/desk", template_folder="templates")
DESK_ROLES = ("admin", "desk", "staff")


def _reader() -> User:
    """The signed-in person's row (the session's user carries no department)."""
    user = db_session().get(User, current_user.id)
    if user is None:
        abort(403)
    return user


def _readable_profile(slug: str) -> tuple[Profile, User]:
    """The profile with ``slug`` and the reader: 404 if unknown, 403 if not theirs to read."""
    profile = desk.profile_by_slug(db_session(), slug)
    if profile is None:
        abort(404)
    user = _reader()
    if not may_read(user, profile):
        abort(403)
    return profile, user


@bp.get("")
@roles_required(*DESK_ROLES)
def dashboard():  # type: ignore[no-untyped-def]
    """What is new since my last visit, what is due soon, what is mine, what is broken."""
    session = db_session()
    user = _reader()
    now = utcnow()
    since = desk.record_visit(user, now)
    board = desk.dashboard(session, user, since, now)
    session.commit()
    return render_template("desk/dashboard.html", board=board, window=desk.DEADLINE_WINDOW.days)


@bp.get("/profiles/")
@roles_required(*DESK_ROLES)
def profiles():  # type: ignore[no-untyped-def]
    """The projects and partners I may read, with how many calls each has."""
    session = db_session()
    return render_template(
        "desk/profiles.html",
        summaries=desk.profile_summaries(session, _reader()),
        run=latest_match_run(session),
    )


@bp.get("/profiles/<slug>")
@roles_required(*DESK_ROLES)
def profile(slug: str):  # type: ignore[no-untyped-def]
    """A profile's ranked calls with reasons, facts and reviews; filters; bulk changes."""
    found, user = _readable_profile(slug)
    filters = ProfileFilterForm(request.args)
    if not filters.validate():
        abort(400)
    return _profile_page(found, user, filters)


def _profile_page(
    profile: Profile, user: User, filters: ProfileFilterForm, bulk: BulkForm | None = None,
    code: int = 200, error: str = "",
) -> tuple[str, int]:  # fmt: skip
    session = db_session()
    view = desk.profile_view(
        session,
        profile,
        utcnow(),
        status=filters.status.data or "",
        hidden=filters.show_not_relevant,
    )
    editor = may_edit(user, profile)
    page = render_template(
        "desk/profile.html",
        profile=profile,
        view=view,
        filters=filters,
        bulk=bulk or BulkForm(formdata=None),
        error=error,
        may_edit=editor,
        suggestions=desk.assignee_suggestions(session) if editor else [],
        explain=explain,
        here=request.full_path.rstrip("?"),
    )
    return page, code


@bp.post("/profiles/<slug>/bulk")
@roles_required(*DESK_ROLES)
def bulk(slug: str):  # type: ignore[no-untyped-def]
    """One status, assignee and/or note for every call ticked on the profile's page."""
    found, user = _readable_profile(slug)
    form = BulkForm()
    filters = ProfileFilterForm()
    if not form.validate():
        return _profile_page(found, user, filters, form, 400)
    session = db_session()
    ids = form.call_id.data or []
    try:
        changed = desk.update_calls(
            session,
            user,
            found,
            ids,
            status=form.status_change(),
            assignee=form.assignee_change(),
            note=form.note_text(),
        )
    except PermissionError:
        session.rollback()
        abort(403)
    except ReviewError as refused:
        session.rollback()
        message = _("Nothing was changed: %(reason)s", reason=str(refused))
        return _profile_page(found, user, filters, form, 400, message)
    session.commit()
    flash(ngettext("%(num)d call changed.", "%(num)d calls changed.", changed), "info")
    return redirect(form.next_path(url_for("desk.profile", slug=slug)))


@bp.get("/profiles/<slug>/calls/<int:call_id>")
@roles_required(*DESK_ROLES)
def pair(slug: str, call_id: int):  # type: ignore[no-untyped-def]
    """A call for a profile by a lasting address: its current match, or its review once
    the matcher no longer ranks it (match ids change with every re-rank)."""
    found, _user = _readable_profile(slug)
    row = desk.profile_row(db_session(), found, call_id, utcnow())
    if row is None:
        abort(404)
    if row.match is not None:
        return redirect(url_for("desk.match", match_id=row.match.id))
    return _review_page(row)


@bp.post("/profiles/<slug>/calls/<int:call_id>/review")
@roles_required(*DESK_ROLES)
def pair_review(slug: str, call_id: int):  # type: ignore[no-untyped-def]
    """A review change for a call of a profile (the undo of "not relevant" posts here)."""
    found, _user = _readable_profile(slug)
    row = desk.profile_row(db_session(), found, call_id, utcnow())
    if row is None:
        abort(404)
    return _apply_review(row)


@bp.get("/calls/<int:call_id>")
@roles_required(*DESK_ROLES)
def call(call_id: int):  # type: ignore[no-untyped-def]
    """Every profile a call matches, city projects beside partner organisations."""
    session = db_session()
    found = get_call(session, call_id)
    if found is None:
        abort(404)
    return render_template(
        "desk/call.html", call=found, view=desk.call_view(session, _reader(), found)
    )


@bp.get("/matches/<int:match_id>")
@roles_required(*DESK_ROLES)
def match(match_id: int):  # type: ignore[no-untyped-def]
    """One match: why it matched, the call's facts, the review form and its timeline."""
    row = _readable_match(match_id)
    return _review_page(row)


@bp.post("/matches/<int:match_id>/review")
@roles_required(*DESK_ROLES)
def review(match_id: int):  # type: ignore[no-untyped-def]
    """Change a match's status or assignee, or add a note; back to the match."""
    return _apply_review(_readable_match(match_id))


def _readable_match(match_id: int) -> desk.DeskRow:
    row = desk.match_row(db_session(), match_id, utcnow())
    if row is None:
        abort(404)
    if not may_read(_reader(), row.profile):
        abort(403)
    return row


def _review_page(
    row: desk.DeskRow, form: ReviewForm | None = None, code: int = 200, error: str = ""
) -> tuple[str, int]:
    session = db_session()
    user = _reader()
    editor = may_edit(user, row.profile)
    if form is None:
        form = ReviewForm(
            formdata=None, status=row.status, assignee=desk.assignee_value(row.review)
        )
    page = render_template(
        "desk/match.html",
        row=row,
        form=form,
        error=error,
        entries=timeline(session, row.review),
        may_edit=editor,
        may_comment=may_comment(user, row.profile),
        suggestions=desk.assignee_suggestions(session) if editor else [],
        waiting=bool(waiting_rematches(session, [row.profile.id])),
        explanation=explain(row.match.explanation) if row.match is not None else None,
    )
    return page, code


def _apply_review(row: desk.DeskRow) -> Any:
    session = db_session()
    user = _reader()
    form = ReviewForm()
    if not form.validate():
        return _review_page(row, form, 400)
    try:
        entry = update_review(
            session,
            user,
            row.profile,
            row.call.id,
            status=form.status_change(),
            assignee=form.assignee_change(),
            note=form.note_text(),
        )
    except PermissionError:
        session.rollback()
        abort(403)
    except ReviewError as refused:
        session.rollback()
        return _review_page(row, form, 400, _("Not saved: %(reason)s", reason=str(refused)))
    session.commit()
    flash(_saved_message(entry, row.call.title), "info")
    back = url_for("desk.pair", slug=row.profile.slug, call_id=row.call.id)
    return redirect(form.next_path(back))


def _saved_message(entry: ReviewNote | None, title: str) -> str:
    if entry is None:
        return _("Nothing changed.")
    if entry.new_status == desk.NOT_RELEVANT:
        return _(
            "“%(title)s” is marked not relevant and no longer listed for this profile; "
            "“show not relevant” on the profile's page undoes it.",
            title=title,
        )
    if entry.old_status == desk.NOT_RELEVANT:
        return _("“%(title)s” is listed for this profile again.", title=title)
    return _("Saved.")
