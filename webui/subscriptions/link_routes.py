"""The pages the links in every mail lead to: confirm, unsubscribe, manage, not relevant.

Each link carries a signed token (``storage.links``): a tampered one is refused with 400,
an expired one says so (410) and offers what to do. A GET changes nothing but a
confirmation (the one thing the opt-in link is for): unsubscribing, erasing and "not
relevant" ask for a button, because mail scanners follow links. The one exception to CSRF
is the one-click unsubscribe of mail clients (RFC 8058), whose signed address is the proof.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from storage.links import BadLink
from storage.models import Subscription
from storage.queries import get_call
from storage.reviews import may_edit
from storage.subscriptions import (
    SubscriptionError,
    confirm,
    delete_everything_of,
    dismiss_call,
    get_subscription,
    normalize_email,
    subscription_targets,
    subscriptions_of,
    unsubscribe,
)
from webui.db import db_session
from webui.subscriptions import tokens
from webui.subscriptions.descriptions import FREQUENCY, describe
from webui.subscriptions.forms import ButtonForm
from webui.subscriptions.routes import bp, signed_in_user

ONE_CLICK = "One-Click"  # RFC 8058: the body is List-Unsubscribe=One-Click


@bp.record_once
def _exempt_one_click(state: Any) -> None:
    # Mail clients post List-Unsubscribe=One-Click without a session or a CSRF token; the
    # view checks the token itself for every other post (see unsubscribe_post).
    state.app.extensions["csrf"].exempt(unsubscribe_post)


def _link_problem(error: BadLink, purpose: str):  # type: ignore[no-untyped-def]
    """An expired link says so and offers what to do; any other bad link is a 400."""
    status = 410 if error.expired else 400
    return render_template(
        "subscriptions/link_problem.html", expired=error.expired, purpose=purpose
    ), status


def _gone():  # type: ignore[no-untyped-def]
    return render_template("subscriptions/gone.html"), 404


def _subscription_of_link(purpose: str, token: str) -> tuple[Subscription | None, dict[str, Any]]:
    """The subscription a link names (None when it no longer exists); raises BadLink."""
    payload = tokens.read(purpose, token)
    subscription = get_subscription(db_session(), tokens.subscription_id(payload))
    if subscription is not None and not tokens.made_for(subscription, token):
        subscription = None
    return subscription, payload


def _described(subscription: Subscription) -> Any:
    target = subscription_targets(db_session(), [subscription]).get(subscription.id)
    return describe(subscription, target)


@bp.get("/confirm/<token>")
def confirm_link(token: str):  # type: ignore[no-untyped-def]
    """The opt-in link: confirms (again, harmlessly) and shows what was subscribed."""
    try:
        subscription, _payload = _subscription_of_link("confirm", token)
    except BadLink as exc:
        return _link_problem(exc, "confirm")
    if subscription is None:
        return _gone()
    session = db_session()
    confirm(session, subscription.id)
    session.commit()
    return render_template(
        "subscriptions/confirmed.html",
        subscription=subscription,
        described=_described(subscription),
        frequency=FREQUENCY[subscription.frequency],
        manage_url=tokens.manage_path(subscription.email),
    )


@bp.get("/unsubscribe/<token>")
def unsubscribe_page(token: str):  # type: ignore[no-untyped-def]
    """One button that unsubscribes (a GET changes nothing: mail scanners follow links)."""
    try:
        subscription, _payload = _subscription_of_link("unsubscribe", token)
    except BadLink as exc:
        return _link_problem(exc, "unsubscribe")
    if subscription is None:
        return render_template("subscriptions/unsubscribed.html", subscription=None)
    return render_template(
        "subscriptions/unsubscribe.html",
        subscription=subscription,
        described=_described(subscription),
        form=ButtonForm(),
        manage_url=tokens.manage_path(subscription.email),
    )


@bp.post("/unsubscribe/<token>")
def unsubscribe_post(token: str):  # type: ignore[no-untyped-def]
    """Unsubscribe: from the page's button (CSRF checked here) or a mail client's one-click
    POST (RFC 8058; no session, no token: the signed address is the proof)."""
    if request.form.get("List-Unsubscribe") != ONE_CLICK:
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError as exc:
            raise CSRFError(str(exc)) from exc
    try:
        subscription, _payload = _subscription_of_link("unsubscribe", token)
    except BadLink as exc:
        return _link_problem(exc, "unsubscribe")
    if subscription is not None:
        session = db_session()
        unsubscribe(session, subscription.id)
        session.commit()
    return render_template(
        "subscriptions/unsubscribed.html",
        subscription=subscription,
        manage_url=tokens.manage_path(subscription.email) if subscription else "",
    )


def _managed_email(token: str) -> str:
    """The address a manage link is for; raises BadLink."""
    email = tokens.read("manage", token).get("e")
    if not isinstance(email, str):
        raise BadLink("this link is not valid")
    try:
        return normalize_email(email)
    except SubscriptionError as exc:
        raise BadLink("this link is not valid") from exc


@bp.get("/manage/<token>")
def manage(token: str):  # type: ignore[no-untyped-def]
    """Every subscription of the address the link was sent to, and deleting them all."""
    try:
        email = _managed_email(token)
    except BadLink as exc:
        return _link_problem(exc, "manage")
    session = db_session()
    subscriptions = subscriptions_of(session, email)
    targets = subscription_targets(session, subscriptions)
    rows = [(s, describe(s, targets.get(s.id))) for s in subscriptions]
    return render_template(
        "subscriptions/manage.html",
        email=email,
        rows=rows,
        token=token,
        form=ButtonForm(),
        frequencies=FREQUENCY,
    )


@bp.post("/manage/<token>/unsubscribe")
def manage_unsubscribe(token: str):  # type: ignore[no-untyped-def]
    """Unsubscribe one subscription of the address, from the manage page."""
    try:
        email = _managed_email(token)
    except BadLink as exc:
        return _link_problem(exc, "manage")
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    session = db_session()
    wanted = request.form.get("subscription", "")
    owned = {str(s.id): s for s in subscriptions_of(session, email)}
    if wanted not in owned:
        abort(404)
    unsubscribe(session, owned[wanted].id)
    session.commit()
    flash(_("Unsubscribed. We send nothing more for this subscription."), "info")
    return redirect(url_for("subscriptions.manage", token=token))


@bp.post("/manage/<token>/delete")
def manage_delete(token: str):  # type: ignore[no-untyped-def]
    """Erase every subscription of the address, with the messages stored for them."""
    try:
        email = _managed_email(token)
    except BadLink as exc:
        return _link_problem(exc, "manage")
    if not ButtonForm().validate_on_submit():
        abort(400)
    session = db_session()
    delete_everything_of(session, email)
    session.commit()
    return render_template("subscriptions/deleted.html")


# --- "not relevant for me" ------------------------------------------------------------------
def _dismissal_of_link(token: str):  # type: ignore[no-untyped-def]
    """The subscription and call a dismiss link names (either None when gone)."""
    subscription, payload = _subscription_of_link("dismiss", token)
    found = get_call(db_session(), tokens.subscription_id(payload, "c"))
    return subscription, found


def _feeds_ranking(subscription: Subscription) -> bool:
    """Whether the signed-in reader's dismissal also becomes the desk's review."""
    user = signed_in_user()
    if subscription.kind != "profile" or user is None:
        return False
    target = subscription_targets(db_session(), [subscription]).get(subscription.id)
    return target is not None and may_edit(user, target)  # type: ignore[arg-type]


@bp.get("/dismiss/<token>")
def dismiss_page(token: str):  # type: ignore[no-untyped-def]
    """ "Not relevant for me": a button, and what pressing it does."""
    try:
        subscription, found = _dismissal_of_link(token)
    except BadLink as exc:
        return _link_problem(exc, "dismiss")
    if subscription is None or found is None:
        return _gone()
    return render_template(
        "subscriptions/dismiss.html",
        subscription=subscription,
        call=found,
        described=_described(subscription),
        feeds_ranking=_feeds_ranking(subscription),
        form=ButtonForm(),
    )


@bp.post("/dismiss/<token>")
def dismiss(token: str):  # type: ignore[no-untyped-def]
    try:
        subscription, found = _dismissal_of_link(token)
    except BadLink as exc:
        return _link_problem(exc, "dismiss")
    if subscription is None or found is None:
        return _gone()
    session = db_session()
    result = dismiss_call(session, subscription.id, found.id, user=signed_in_user())
    session.commit()
    return render_template(
        "subscriptions/dismissed.html",
        subscription=subscription,
        call=found,
        described=_described(subscription),
        reviewed=result.reviewed,
        manage_url=tokens.manage_path(subscription.email),
    )
