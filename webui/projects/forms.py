"""The forms of the profile pages, and the validator's problems in the reader's language.

The forms only carry values and the CSRF token: what a profile may hold is checked by
``storage.profiles.validate_row`` (the same rules as an imported file), and its problems are
put next to the fields here.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    EmailField,
    Field,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)

from storage.models import APPLICANT_TYPES, LANGUAGES, PROFILE_KINDS
from storage.profiles import Problem
from webui import labels

KIND_LABELS = {"project": _l("City project"), "partner": _l("Partner organisation")}
FIELD_LABELS = {
    "slug": _l("Short name in the address"),
    "name": _l("Name"),
    "kind": _l("Kind"),
    "description": _l("Description"),
    "themes": _l("Themes"),
    "keywords": _l("Keywords"),
    "department": _l("Department"),
    "legal_form": _l("Legal form"),
    "applicant_type": _l("Applicant type"),
    "region": _l("Region"),
    "language": _l("Language"),
    "budget_min_eur": _l("Budget from (€)"),
    "budget_max_eur": _l("Budget up to (€)"),
    "start_date": _l("Start"),
    "end_date": _l("End"),
    "lead_time_days": _l("Lead time (days)"),
    "partner_countries": _l("Partner countries"),
    "contact_email": _l("Contact email"),
    "active": _l("Active"),
}
PROBLEMS = {
    "unknown_field": _l("This field is unknown."),
    "required": _l("Please fill this in."),
    "slug_format": _l("“%(value)s”: use lower-case letters, digits and hyphens."),
    "slug_taken": _l("“%(value)s” is the short name of another profile already."),
    "not_one_of": _l("“%(value)s” is not one of %(allowed)s."),
    "too_short": _l("Too short to match on: write at least 40 characters."),
    "region": _l("“%(value)s” is not a region code such as DE-NI, DE or EU."),
    "email": _l("“%(value)s” is not an email address."),
    "not_a_list": _l("Write a list: one per line, or separated by semicolons."),
    "not_a_number": _l("“%(value)s” is not a whole number."),
    "negative": _l("This must not be negative."),
    "budget_order": _l("This is less than the budget from."),
    "not_a_date": _l("“%(value)s” is not a date like 2027-03-31."),
    "date_order": _l("This is before the start."),
    "duplicate": _l("The same short name (slug) as row %(value)s."),
    "not_yaml": _l("The file is not valid YAML: %(value)s"),
    "not_a_profile_list": _l("The file should hold a list of profiles (or the key “profiles”)."),
    "no_header": _l("The CSV file has no header row."),
    "file_type": _l("Unknown file type “%(value)s”: use .yaml, .yml or .csv."),
    "not_utf8": _l("The file is not UTF-8 text."),
    "empty": _l("The file holds no profiles."),
    "too_long": _l("Too long: %(value)s characters, at most %(allowed)s."),
    "bad_character": _l("Contains a control character; remove it."),
    "too_large": _l("“%(value)s” is too large."),
    "no_such_date": _l("“%(value)s” is not a day of the calendar (YYYY-MM-DD)."),
    "extra_cells": _l("The row has %(value)s cells, the header %(allowed)s."),
    "unnamed_cell": _l(
        "“%(value)s” stands in column %(allowed)s, which has no name in the header."
    ),
    "not_csv": _l("The file is not valid CSV: %(value)s"),
    "unknown_column": _l("Unknown column “%(value)s” (known: %(allowed)s)."),
    "duplicate_column": _l("The column “%(value)s” appears more than once in the header."),
}
LIST_HINT = _l("One per line, or separated by semicolons.")


def problem_text(problem: Problem) -> str:
    """What ``problem`` means, in the reader's language."""
    message = PROBLEMS.get(problem.code)
    if message is None:
        return problem.text
    return str(message) % {"value": problem.value, "allowed": problem.allowed}


def field_label(name: str) -> str:
    """A profile field as a file's reader needs it: its label and its column, "Kind (kind)"."""
    return f"{FIELD_LABELS[name]} ({name})" if name in FIELD_LABELS else name


def _choices(values: tuple[str, ...], names: dict[str, Any]) -> list[SelectChoice]:
    return [SelectChoice(value, names.get(value, value)) for value in values]


def _text(name: str, **kwargs: Any) -> StringField:
    return StringField(FIELD_LABELS[name], **kwargs)


def _number(name: str, **kwargs: Any) -> StringField:
    return StringField(FIELD_LABELS[name], render_kw={"inputmode": "numeric"}, **kwargs)


def _date(name: str) -> StringField:
    return StringField(FIELD_LABELS[name], render_kw={"type": "date"})


def _list(name: str, **kwargs: Any) -> TextAreaField:
    return TextAreaField(FIELD_LABELS[name], render_kw={"rows": 3}, **kwargs)


class ProfileForm(FlaskForm):
    """Every field of a profile the validator knows; the slug only when it is made."""

    slug = _text(
        "slug",
        description=_l(
            "Optional: lower-case letters, digits and hyphens, made from the name when left "
            "empty. It cannot be changed later."
        ),
    )
    name = _text("name")
    kind = SelectField(
        FIELD_LABELS["kind"], choices=_choices(PROFILE_KINDS, KIND_LABELS), validate_choice=False
    )
    description = TextAreaField(
        FIELD_LABELS["description"],
        render_kw={"rows": 6},
        description=_l("What the project does or the organisation offers; matched with calls."),
    )
    themes = _list("themes", description=LIST_HINT)
    keywords = _list("keywords", description=LIST_HINT)
    department = _text("department", description=_l("For city projects."))
    legal_form = _text("legal_form", description=_l("For partner organisations."))
    applicant_type = SelectField(
        FIELD_LABELS["applicant_type"],
        choices=_choices(APPLICANT_TYPES, labels.APPLICANT),
        validate_choice=False,
    )
    region = _text("region", default="DE-NI", description=_l("A code such as DE-NI, DE or EU."))
    language = SelectField(
        FIELD_LABELS["language"],
        choices=_choices(LANGUAGES, labels.LANGUAGE),
        validate_choice=False,
    )
    budget_min_eur = _number("budget_min_eur")
    budget_max_eur = _number("budget_max_eur")
    start_date = _date("start_date")
    end_date = _date("end_date")
    lead_time_days = _number(
        "lead_time_days",
        default="28",
        description=_l("How long an application takes to prepare."),
    )
    partner_countries = _text(
        "partner_countries", description=_l("Country codes separated by semicolons: FR; PL.")
    )
    contact_email = EmailField(FIELD_LABELS["contact_email"])

    def values(self) -> dict[str, str]:
        """What was entered, as ``storage.profile_edits.save_profile`` takes it."""
        return {
            name: (field.data or "").strip()
            for name, field in self._fields.items()
            if name != "csrf_token"
        }

    def show_problems(self, problems: list[Problem]) -> list[str]:
        """Put each problem next to its field; the texts of those without a field."""
        loose: list[str] = []
        for problem in problems:
            field: Field | None = self._fields.get(problem.field)
            if field is None or problem.field == "csrf_token":
                loose.append(problem_text(problem))
            else:
                field.errors = [*field.errors, problem_text(problem)]
        return loose


def form_data(values: dict[str, Any]) -> dict[str, str]:
    """A stored profile's values as the form shows them (lists one per line)."""
    data: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            data[name] = ""
        elif isinstance(value, list):
            joiner = "; " if name == "partner_countries" else "\n"
            data[name] = joiner.join(value)
        elif hasattr(value, "isoformat"):
            data[name] = value.isoformat()
        else:
            data[name] = str(value)
    return data


class ImportForm(FlaskForm):
    """A YAML or CSV file of profiles, as ``foerderdesk profiles import`` reads it."""

    file = FileField(
        _l("Profile file (.yaml, .yml or .csv)"),
        validators=[FileRequired(message=_l("Please choose a file."))],
    )
    check_only = BooleanField(_l("Only check the file; import nothing"))


class ConfirmForm(FlaskForm):
    """A button that changes something: it carries only the CSRF token."""


def import_summary(created: int, updated: int) -> str:
    """ "2 profiles created, 1 updated" in the reader's language."""
    return _("%(created)s created, %(updated)s updated", created=created, updated=updated)
