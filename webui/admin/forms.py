"""The forms of the admin pages: a new user, a role, the mail page's search, and the buttons
that need only CSRF."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, Form, PasswordField, SearchField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

from storage.models import USER_ROLES
from storage.users import MAX_EMAIL_LENGTH
from webui.auth import MIN_PASSWORD_LENGTH

# What each role may do, as the admin page explains it.
ROLE_LABELS = {
    "admin": _l("Administrator"),
    "desk": _l("Service desk"),
    "staff": _l("City staff"),
}
ROLE_HINTS = {
    "admin": _l("everything, including managing users"),
    "desk": _l("edits reviews and profiles"),
    "staff": _l("reads and comments on their department's matches"),
}


def _role_choices() -> list[SelectChoice]:
    return [SelectChoice(role, ROLE_LABELS[role]) for role in USER_ROLES]  # type: ignore[arg-type]


class CreateUserForm(FlaskForm):
    """A new person who signs in with an initial password, which they are told in person."""

    email = EmailField(
        _l("Email"),
        validators=[DataRequired(), Length(max=MAX_EMAIL_LENGTH), Regexp(r"^[^@\s]+@[^@\s]+$")],
    )
    name = StringField(_l("Name"), validators=[Optional(), Length(max=200)])
    role = SelectField(_l("Role"), choices=_role_choices(), default="staff")
    department = StringField(
        _l("Department"),
        validators=[Optional(), Length(max=200)],
        description=_l("For city staff: they see the matches of this department's projects."),
    )
    password = PasswordField(
        _l("Initial password"),
        validators=[
            DataRequired(),
            Length(min=MIN_PASSWORD_LENGTH, message=_l("Too short: at least %(min)d characters.")),
            Length(max=500),
        ],
        description=_l("At least %(min)d characters.", min=MIN_PASSWORD_LENGTH),
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


class RoleForm(FlaskForm):
    """A user's new role."""

    role = SelectField(_l("Role"), choices=_role_choices())


class ConfirmForm(FlaskForm):
    """A button that changes something: it carries only the CSRF token."""


class MailSearchForm(Form):
    """The mail page's query string: ``q``, part of an address (any case)."""

    q = SearchField(
        _l("Find an address"),
        validators=[Optional(), Length(max=MAX_EMAIL_LENGTH)],
        description=_l("Part of it is enough, in any case."),
    )
