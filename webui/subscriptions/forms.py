"""The subscription forms: an address with how often and in which language, and the
one-button forms (confirm an unsubscribe, a dismissal, an erasure) that carry only CSRF."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Regexp

from storage.subscriptions import MAX_EMAIL_LENGTH
from webui.i18n import LANGUAGES
from webui.subscriptions.descriptions import FREQUENCY

# Offered in this order (sofort / täglich / wöchentlich); weekly unless the person picks
# otherwise. The labels are short so that the choice fits a phone; the hint says what each
# promises.
FREQUENCY_CHOICES = FREQUENCY
FREQUENCY_HINT = _l(
    "“Daily” and “weekly” mean at most one email a day or a week; “immediately” sends new"
    " calls soon after they are found, at most one email an hour."
)
DEFAULT_FREQUENCY = "weekly"
# Each language in its own name, so that a reader of either can find theirs.
MAIL_LANGUAGES = {"de": "Deutsch", "en": "English"}


def _email_field() -> EmailField:
    return EmailField(
        _l("Your email address"),
        validators=[
            DataRequired(message=_l("Please enter your email address.")),
            Length(max=MAX_EMAIL_LENGTH, message=_l("This address is too long.")),
            Regexp(
                r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$",
                message=_l("This does not look like an email address (name@example.org)."),
            ),
        ],
    )


def _language_field() -> SelectField:
    return SelectField(
        _l("Language of the emails"),
        choices=[SelectChoice(code, MAIL_LANGUAGES[code]) for code in LANGUAGES],
    )


class SubscribeForm(FlaskForm):
    """A saved search or a profile's matches: who, how often, in which language.

    The mail language is ``mail_language``: ``language`` is a filter of the search whose
    parameters travel in the same form.
    """

    email = _email_field()
    frequency = SelectField(
        _l("How often"),
        description=FREQUENCY_HINT,
        choices=[SelectChoice(k, v) for k, v in FREQUENCY_CHOICES.items()],  # type: ignore[arg-type]
        default=DEFAULT_FREQUENCY,
    )
    mail_language = _language_field()


class FollowForm(FlaskForm):
    """Follow one call: its changes and deadline reminders go out when they happen."""

    email = _email_field()
    mail_language = _language_field()


class ManageRequestForm(FlaskForm):
    """Ask for a link to one's subscriptions by email."""

    email = _email_field()


class ButtonForm(FlaskForm):
    """A form that is only a button: the CSRF token is all it carries."""
