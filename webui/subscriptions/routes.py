"""Subscribing in the browser: a saved search, a followed call, a profile's matches.

Subscribing stores the subscription and its confirmation mail (nothing else goes out before
it is confirmed) and shows the same page whether or not the address was known; so does
asking for the manage link. The pages the mails link to are in ``link_routes``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from storage.models import Subscription, User
from storage.queries import get_call
from storage.reviews import may_read
from storage.subscriptions import (
    SubscriptionError,
    manage_anchor,
    subscribable_profile,
    subscribe,
)
from webui.auth import roles_required
from webui.db import db_session
from webui.i18n import current_language
from webui.limits import limiter, submitted_account
from webui.search.params import SearchArgs, parse_search_args
from webui.subscriptions.descriptions import (
    describe_call,
    describe_profile,
    describe_search,
)
from webui.subscriptions.forms import (
    MAIL_LANGUAGES,
    FollowForm,
    ManageRequestForm,
    SubscribeForm,
)
from webui.subscriptions.mail import queue_confirmation, queue_manage_link

bp = Blueprint("subscriptions", __name__, url_prefix="/subscriptions", template_folder="templates")

# Per remote address across every subscribe form, and per submitted address, so that nobody
# can fill a stranger's mailbox with confirmation requests.
SUBSCRIBE_PER_ADDRESS = "10 per hour"
SUBSCRIBE_PER_EMAIL = "5 per hour"

F = TypeVar("F", bound=Callable[..., Any])


def subscribe_limits(view: F) -> F:
    """The rate limits of the forms that store mail (their POST requests only)."""
    per_email = limiter.shared_limit(
        SUBSCRIBE_PER_EMAIL, scope="subscribe-email", key_func=submitted_account, methods=["POST"]
    )
    per_address = limiter.shared_limit(SUBSCRIBE_PER_ADDRESS, scope="subscribe", methods=["POST"])
    return per_address(per_email(view))  # type: ignore[return-value]


# --- shared bits for the templates ----------------------------------------------------------
def new_subscribe_form(kind: str = "search") -> SubscribeForm | FollowForm:
    """An empty form for the boxes on the search and call pages: the signed-in person's
    address, the page's language."""
    form_class = FollowForm if kind == "call" else SubscribeForm
    form = form_class(formdata=None)
    if current_user.is_authenticated:
        form.email.data = current_user.email
    form.mail_language.data = current_language()
    return form


def hidden_search_fields(args: SearchArgs) -> list[tuple[str, str]]:
    """The search's parameters as (name, value) pairs for hidden inputs (no page, no sort)."""
    pairs: list[tuple[str, str]] = []
    for name, value in args.query_string(page="", sort="").items():
        values = value if isinstance(value, list | tuple) else [value]
        pairs.extend((name, str(v)) for v in values)
    return pairs


@bp.app_context_processor
def subscription_helpers() -> dict[str, object]:
    return {
        "subscription_form": new_subscribe_form,
        "hidden_search_fields": hidden_search_fields,
        "describe_search": describe_search,
        "mail_languages": MAIL_LANGUAGES,
    }


def signed_in_user() -> User | None:
    if not current_user.is_authenticated:
        return None
    return db_session().get(User, current_user.id)


# --- subscribing ----------------------------------------------------------------------------
def _stored(subscription: Subscription) -> Any:
    """Store the confirmation mail, commit, and show the same page in every case."""
    session = db_session()
    queue_confirmation(session, subscription)
    session.commit()
    return redirect(url_for("subscriptions.pending"))


def _refused(form: SubscribeForm | FollowForm, error: SubscriptionError) -> None:
    field = {"email": form.email}.get(error.field)
    message = (
        _("This does not look like an email address (name@example.org).")
        if field is not None
        else _("This subscription is not possible. Please check your choices.")
    )
    if field is not None:
        field.errors = [*field.errors, message]
    else:
        flash(message, "error")


@bp.route("/search", methods=["GET", "POST"])
@subscribe_limits
def search():  # type: ignore[no-untyped-def]
    """Email alerts for a search; its parameters come in the query string or the form."""
    source = request.form if request.method == "POST" else request.args
    args = parse_search_args(MultiDict(source))
    form = SubscribeForm()
    if form.validate_on_submit():
        try:
            subscription = subscribe(
                db_session(),
                email=form.email.data or "",
                kind="search",
                query=args.filter,
                frequency=form.frequency.data,
                language=form.mail_language.data,
                user_id=current_user.id if current_user.is_authenticated else None,
            )
        except SubscriptionError as exc:
            _refused(form, exc)
        else:
            return _stored(subscription)
    elif request.method == "GET":
        form = new_subscribe_form("search")  # type: ignore[assignment]
    return _form_page(form, describe_search(args.filter), "search", args=args)


@bp.route("/call/<int:call_id>", methods=["GET", "POST"])
@subscribe_limits
def call(call_id: int):  # type: ignore[no-untyped-def]
    """Follow one call: its changes and the reminders before its deadlines."""
    found = get_call(db_session(), call_id)
    if found is None:
        abort(404)
    form = FollowForm()
    if form.validate_on_submit():
        try:
            subscription = subscribe(
                db_session(),
                email=form.email.data or "",
                kind="call",
                call_id=call_id,
                # Changes and reminders matter on the day: they go out as they happen.
                frequency="immediate",
                language=form.mail_language.data,
                user_id=current_user.id if current_user.is_authenticated else None,
            )
        except SubscriptionError as exc:
            _refused(form, exc)
        else:
            return _stored(subscription)
    elif request.method == "GET":
        form = new_subscribe_form("call")  # type: ignore[assignment]
    return _form_page(form, describe_call(found), "call", call_id=call_id)


@bp.route("/new", methods=["GET", "POST"])
@roles_required("admin", "desk", "staff")
@subscribe_limits
def new():  # type: ignore[no-untyped-def]
    """A profile's matches by email, for the desk and for staff who may read the profile."""
    session = db_session()
    slug = request.args.get("profile", "")
    profile = subscribable_profile(session, slug)
    if profile is None:
        abort(404)
    user = signed_in_user()
    if user is None or not may_read(user, profile):
        abort(403)
    form = SubscribeForm()
    if form.validate_on_submit():
        try:
            subscription = subscribe(
                session,
                email=form.email.data or "",
                kind="profile",
                profile_id=profile.id,
                frequency=form.frequency.data,
                language=form.mail_language.data,
                user_id=user.id,
            )
        except SubscriptionError as exc:
            _refused(form, exc)
        else:
            return _stored(subscription)
    elif request.method == "GET":
        form.email.data = user.email
        form.mail_language.data = user.language if user.language in MAIL_LANGUAGES else "de"
    return _form_page(form, describe_profile(profile), "profile", profile=profile.slug)


def _form_page(form: Any, described: Any, kind: str, **action: Any):  # type: ignore[no-untyped-def]
    endpoint = {"search": "subscriptions.search", "call": "subscriptions.call"}.get(
        kind, "subscriptions.new"
    )
    target = url_for(endpoint, **{k: v for k, v in action.items() if k != "args"})
    status = 400 if request.method == "POST" else 200
    return render_template(
        "subscriptions/form.html",
        form=form,
        described=described,
        kind=kind,
        action=target,
        args=action.get("args"),
    ), status


@bp.get("/pending")
def pending():  # type: ignore[no-untyped-def]
    """Almost done: the confirmation mail is on its way (if the address is one)."""
    return render_template("subscriptions/pending.html")


@bp.route("/manage", methods=["GET", "POST"])
@subscribe_limits
def manage_request():  # type: ignore[no-untyped-def]
    """Ask for the manage link by mail; the answer is the same for every address."""
    form = ManageRequestForm()
    if form.validate_on_submit():
        session = db_session()
        anchor = manage_anchor(session, form.email.data or "")
        if anchor is not None:
            queue_manage_link(session, anchor, current_language())
            session.commit()
        return render_template("subscriptions/manage_sent.html")
    status = 400 if request.method == "POST" else 200
    return render_template("subscriptions/manage_request.html", form=form), status
