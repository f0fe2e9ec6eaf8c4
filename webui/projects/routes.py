"""The desk's profile pages: the list, a new profile, an edit, archive, and a file import.

Thin views: each reads a form, calls one function of ``storage.profile_edits`` or
``storage.profiles`` with the request's session, commits, and redirects with a message. A
change queues a re-rank (the scheduler does it); the list shows "re-ranking…" until it lands.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from storage.models import Profile
from storage.profile_edits import get_profile, profile_rows, profile_values, save_profile
from storage.profile_edits import set_archived as store_archived
from storage.profiles import ProfileFileError, ProfileInvalid, import_upload, validate_upload
from webui.auth import roles_required
from webui.db import db_session
from webui.projects.forms import (
    KIND_LABELS,
    ConfirmForm,
    ImportForm,
    ProfileForm,
    field_label,
    form_data,
    import_summary,
    problem_text,
)

bp = Blueprint("projects", __name__, url_prefix="/projects", template_folder="templates")
EDITORS = ("admin", "desk")
MAX_UPLOAD_BYTES = 2 * 1024 * 1024  # a profile file of a few hundred rows is far smaller


def matches_endpoint() -> str:
    """Where a profile's ranked calls are shown: the desk's page, or the older list."""
    return "desk.profile" if "desk.profile" in current_app.view_functions else "profiles.show"


def _profile(slug: str) -> Profile:
    profile = get_profile(db_session(), slug)
    if profile is None:
        abort(404)
    return profile


@bp.get("/")
@roles_required(*EDITORS)
def index():  # type: ignore[no-untyped-def]
    """Every active profile (and the archived ones with ``?archived=1``)."""
    archived = request.args.get("archived") == "1"
    return render_template(
        "projects/index.html",
        rows=profile_rows(db_session(), archived=archived),
        archived=archived,
        kinds=KIND_LABELS,
        matches_endpoint=matches_endpoint(),
        confirm=ConfirmForm(formdata=None),
    )


def _render_form(form: ProfileForm, profile: Profile | None, loose=(), status=200):  # type: ignore[no-untyped-def]
    return render_template(
        "projects/form.html", form=form, profile=profile, loose=list(loose)
    ), status


def _saved_message(profile: Profile, created: bool) -> str:
    if not profile.active:
        return _("Saved. The profile is archived, so it is not re-ranked.")
    if created:
        return _("Profile “%(name)s” created; its calls are being ranked (a few minutes).",
                 name=profile.name)  # fmt: skip
    return _("Saved; the ranking of “%(name)s” is being recalculated (a few minutes).",
             name=profile.name)  # fmt: skip


def _save(form: ProfileForm, profile: Profile | None):  # type: ignore[no-untyped-def]
    """Validate and store the form, or show it again with the problems by its fields."""
    session = db_session()
    try:
        saved = save_profile(session, form.values(), profile, requested_by_id=current_user.id)
    except ProfileInvalid as exc:
        session.rollback()
        return _render_form(form, profile, form.show_problems(exc.problems), 400)
    session.commit()
    flash(_saved_message(saved, created=profile is None), "info")
    return redirect(url_for("projects.index"))


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*EDITORS)
def new():  # type: ignore[no-untyped-def]
    """A new city project or partner organisation."""
    form = ProfileForm()
    if form.validate_on_submit():
        return _save(form, None)
    return _render_form(form, None)


@bp.route("/<slug>/edit", methods=["GET", "POST"])
@roles_required(*EDITORS)
def edit(slug: str):  # type: ignore[no-untyped-def]
    """Change a profile's values (its slug stays)."""
    profile = _profile(slug)
    if request.method == "POST":
        form = ProfileForm()
        if form.validate_on_submit():
            return _save(form, profile)
        abort(400)
    form = ProfileForm(formdata=None, data=form_data(profile_values(profile)))
    return _render_form(form, profile)


def _set_archived(slug: str, archived: bool):  # type: ignore[no-untyped-def]
    profile = _profile(slug)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    session = db_session()
    changed = store_archived(session, profile, archived, requested_by_id=current_user.id)
    session.commit()
    if changed and archived:
        flash(_("“%(name)s” is archived: it is no longer matched and its matches are hidden.",
                name=profile.name), "info")  # fmt: skip
    elif changed:
        flash(_("“%(name)s” is active again; its calls are being ranked (a few minutes).",
                name=profile.name), "info")  # fmt: skip
    return redirect(url_for("projects.index", archived="1" if not archived else None))


@bp.post("/<slug>/archive")
@roles_required(*EDITORS)
def archive(slug: str):  # type: ignore[no-untyped-def]
    return _set_archived(slug, True)


@bp.post("/<slug>/unarchive")
@roles_required(*EDITORS)
def unarchive(slug: str):  # type: ignore[no-untyped-def]
    return _set_archived(slug, False)


def _render_import(form: ImportForm, error: ProfileFileError | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    problems = [
        {
            "row": p.row,
            "slug": p.slug,
            "field": field_label(p.field) if p.field else "",
            "text": problem_text(p),
        }
        for p in (error.problems if error else [])
    ]
    return render_template("projects/import.html", form=form, problems=problems), status


@bp.route("/import", methods=["GET", "POST"])
@roles_required(*EDITORS)
def import_file():  # type: ignore[no-untyped-def]
    """Import a file as the command line does: every row, or none when one is wrong."""
    form = ImportForm()
    if not form.validate_on_submit():
        return _render_import(form, status=400 if request.method == "POST" else 200)
    upload = form.file.data
    data = upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        form.file.errors = [_("The file is larger than 2 MB.")]
        return _render_import(form, status=400)
    filename = upload.filename or ""
    session = db_session()
    try:
        if form.check_only.data:
            rows = validate_upload(filename, data)
        else:
            result = import_upload(session, filename, data, requested_by_id=current_user.id)
    except ProfileFileError as exc:
        session.rollback()
        return _render_import(form, exc, 400)
    if form.check_only.data:
        flash(ngettext("The file is fine: %(num)s profile; nothing imported yet.",
                       "The file is fine: %(num)s profiles; nothing imported yet.",
                       len(rows)), "info")  # fmt: skip
        return _render_import(ImportForm(formdata=None))
    session.commit()
    flash(_("Imported: %(summary)s. Their calls are being ranked (a few minutes).",
            summary=import_summary(len(result.created), len(result.updated))), "info")  # fmt: skip
    return redirect(url_for("projects.index"))
