"""The administrators' pages: the list of users, a new user, a role, deactivate/reactivate;
the mail that does not go out (suppressed addresses, failed messages) and lifting a suppression.

Thin views: each reads a form, calls one function of ``storage.users`` or ``storage.outbox``
with the request's session, commits, and redirects back to the list with a message
(post/redirect/get).
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from storage.models import User
from storage.outbox import MAX_ATTEMPTS, lift_suppression, mail_overview
from storage.users import UserError, create_user, get_user, list_users, set_active, set_role
from webui.admin.forms import (
    ROLE_HINTS,
    ROLE_LABELS,
    ConfirmForm,
    CreateUserForm,
    MailSearchForm,
    RoleForm,
)
from webui.admin.wording import MESSAGE_KINDS, OUTBOX_STATES
from webui.auth import hash_password, roles_required
from webui.db import db_session

log = logging.getLogger(__name__)
bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")


def _actor() -> User:
    actor = get_user(db_session(), current_user.id)
    if actor is None:  # deleted while signed in
        abort(403)
    return actor


def _target(user_id: int) -> User:
    user = get_user(db_session(), user_id)
    if user is None:
        abort(404)
    return user


def _explain(error: UserError) -> str:
    """A refused change in the reader's language."""
    messages = {
        "email_taken": _("A user with this email exists already."),
        "bad_email": _("This is not an email address."),
        "unknown_role": _("Choose one of the roles."),
        "own_role": _("You cannot change your own role; ask another administrator."),
        "own_account": _("You cannot deactivate yourself; ask another administrator."),
    }
    return messages.get(error.reason, str(error))


def _render_list(form: CreateUserForm, status: int = 200):  # type: ignore[no-untyped-def]
    users = list_users(db_session())
    role_forms = {}
    for user in users:
        role_form = RoleForm(prefix=f"u{user.id}", formdata=None)
        role_form.role.data = user.role
        role_forms[user.id] = role_form
    return render_template(
        "admin/users.html",
        users=users,
        form=form,
        role_forms=role_forms,
        confirm=ConfirmForm(formdata=None),
        role_labels=ROLE_LABELS,
        role_hints=ROLE_HINTS,
    ), status


@bp.get("/users")
@roles_required("admin")
def users():  # type: ignore[no-untyped-def]
    """Everyone who may sign in, and a form for one more."""
    return _render_list(CreateUserForm(formdata=None))


@bp.post("/users")
@roles_required("admin")
def create():  # type: ignore[no-untyped-def]
    """Add a user with an initial password; a refused form is shown again with reasons."""
    form = CreateUserForm()
    if not form.validate_on_submit():
        return _render_list(form, 400)
    session = db_session()
    try:
        user = create_user(
            session,
            form.email.data or "",
            password_hash=hash_password(form.password.data or ""),
            role=form.role.data or "staff",
            name=form.name.data or "",
            department=form.department.data or "",
        )
    except UserError as exc:
        session.rollback()
        field = form.role if exc.reason == "unknown_role" else form.email
        field.errors = [*field.errors, _explain(exc)]
        return _render_list(form, 400)
    session.commit()
    flash(_("%(email)s can now sign in as %(role)s.", email=user.email,
            role=ROLE_LABELS[user.role]), "info")  # fmt: skip
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/role")
@roles_required("admin")
def change_role(user_id: int):  # type: ignore[no-untyped-def]
    """Give another user a new role; it ends their sessions, so they sign in again with it."""
    user = _target(user_id)
    form = RoleForm(prefix=f"u{user.id}")
    if not form.validate_on_submit():
        abort(400)
    session = db_session()
    try:
        changed = set_role(session, user, form.role.data or "", actor=_actor())
    except UserError as exc:
        session.rollback()
        flash(_explain(exc), "error")
        return redirect(url_for("admin.users"))
    session.commit()
    if changed:
        flash(_("%(email)s is now %(role)s.", email=user.email, role=ROLE_LABELS[user.role]),
              "info")  # fmt: skip
    return redirect(url_for("admin.users"))


def _set_active(user_id: int, active: bool):  # type: ignore[no-untyped-def]
    user = _target(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    session = db_session()
    try:
        changed = set_active(session, user, active, actor=_actor())
    except UserError as exc:
        session.rollback()
        flash(_explain(exc), "error")
        return redirect(url_for("admin.users"))
    session.commit()
    if changed and active:
        flash(_("%(email)s can sign in again.", email=user.email), "info")
    elif changed:
        flash(_("%(email)s is deactivated: signed out, and their API tokens are revoked.",
                email=user.email), "info")  # fmt: skip
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/deactivate")
@roles_required("admin")
def deactivate(user_id: int):  # type: ignore[no-untyped-def]
    """Stop another user signing in and revoke their API tokens."""
    return _set_active(user_id, False)


@bp.post("/users/<int:user_id>/reactivate")
@roles_required("admin")
def reactivate(user_id: int):  # type: ignore[no-untyped-def]
    """Let a deactivated user sign in again (their old tokens stay revoked)."""
    return _set_active(user_id, True)


def _mail_search() -> MailSearchForm:
    form = MailSearchForm(request.args)
    if not form.validate():
        abort(400)
    return form


@bp.get("/mail")
@roles_required("admin")
def mail():  # type: ignore[no-untyped-def]
    """Mail that does not go out: the outbox by state, the suppressed addresses with the
    server's reason, the failed messages; narrowed by a search for an address."""
    form = _mail_search()
    return render_template(
        "admin/mail.html",
        overview=mail_overview(db_session(), search=form.q.data or ""),
        form=form,
        confirm=ConfirmForm(formdata=None),
        states=OUTBOX_STATES,
        kinds=MESSAGE_KINDS,
        max_attempts=MAX_ATTEMPTS,
    )


@bp.post("/mail/suppressed/<int:address_id>/lift")
@roles_required("admin")
def lift(address_id: int):  # type: ignore[no-untyped-def]
    """Let new mail go to a suppressed address again; old messages are not resent."""
    search = _mail_search().q.data or None
    back = redirect(url_for("admin.mail", q=search))
    if not ConfirmForm().validate_on_submit():
        abort(400)
    session = db_session()
    email = lift_suppression(session, address_id)
    if email is None:
        session.rollback()
        flash(_("This address is not suppressed (any more): there was nothing to lift."),
              "warning")  # fmt: skip
        return back
    session.commit()
    # No audit table exists for this: the log records who let mail go to the address again.
    log.info("suppression of %s lifted by %s (user %s)", email, current_user.email,
             current_user.id)  # fmt: skip
    flash(_("%(email)s gets new mail again; what failed or was held back is not resent.",
            email=email), "info")  # fmt: skip
    return back
