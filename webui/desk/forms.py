"""What the desk's pages read from a request: the list filter, a review change, a bulk change.

A field the page did not send means "leave it"; an assignee sent empty means "nobody". The
status is checked here, so a mistyped one is answered with a message on the page.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Form, HiddenField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from storage.models import REVIEW_STATUSES
from storage.reviews import MAX_NOTE_LENGTH
from webui.input_guard import MAX_ID
from webui.redirects import same_site_path

MAX_ASSIGNEE_LENGTH = 200


def _known_status(form: Form, field: StringField) -> None:
    if field.data and field.data not in REVIEW_STATUSES:
        raise ValidationError(
            _l("Unknown status “%(status)s”; choose one from the list.", status=field.data[:40])
        )


def _storable_ids(form: Form, field: SelectMultipleField) -> None:
    # A number no id column holds is no call of the list; the database would refuse it with
    # an error (SQLite and PostgreSQL both) rather than find nothing.
    if any(not 0 < value <= MAX_ID for value in field.data or ()):
        raise ValidationError(_l("Select the calls from the list."))


class ProfileFilterForm(Form):
    """A profile page's query string: ``status`` to list one stage, ``show=not_relevant``."""

    status = StringField(validators=[Optional(), _known_status])
    show = StringField(validators=[Optional()])

    @property
    def show_not_relevant(self) -> bool:
        return self.show.data == "not_relevant"


class _Change(FlaskForm):
    status = StringField(_l("Status"), validators=[Optional(), _known_status])
    assignee = StringField(_l("Assigned to"), validators=[Length(max=MAX_ASSIGNEE_LENGTH)])
    note = TextAreaField(_l("Note"), validators=[Length(max=MAX_NOTE_LENGTH)])
    next = HiddenField()

    def status_change(self) -> str | None:
        """The status to set, or None to leave it."""
        return self.status.data or None

    def assignee_change(self) -> str | None:
        """The assignee to set ("" for nobody), or None when the page sent no assignee."""
        if not self.assignee.raw_data:
            return None
        return (self.assignee.data or "").strip()

    def note_text(self) -> str | None:
        return (self.note.data or "").strip() or None

    def next_path(self, default: str) -> str:
        """Where to go after the change: a path on this site, else ``default``."""
        return same_site_path(self.next.data, default)


class ReviewForm(_Change):
    """A change of one match's review: status, assignee, a note (any of them)."""


class BulkForm(_Change):
    """One change for the calls ticked on a profile's page; an empty assignee keeps each,
    and a note goes into each call's history (why a batch was set aside, say)."""

    call_id = SelectMultipleField(
        coerce=int,
        validate_choice=False,
        validators=[DataRequired(_l("Select at least one call.")), _storable_ids],
    )

    def assignee_change(self) -> str | None:
        return (self.assignee.data or "").strip() or None

    def validate(self, extra_validators=None) -> bool:  # type: ignore[no-untyped-def,override]
        valid = super().validate(extra_validators)
        nothing = self.status_change() is None and self.assignee_change() is None
        if valid and nothing and self.note_text() is None:
            self.form_errors.append(_l("Choose a stage or an assignee, or write a note, to apply."))
            return False
        return valid
