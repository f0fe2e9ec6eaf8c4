"""The deadline calendar: a month of the pursued calls' deadlines, and a personal feed.

The month page needs a login (staff see their department's profiles only, as everywhere);
the feed needs none, because the secret in its address is the key: only its hash is stored,
it is shown once, and making a new one or revoking it closes the old address.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale, format_date, format_datetime, get_locale
from flask_babel import gettext as _
from flask_login import current_user

from storage.calendar import (
    PursuedDeadline,
    create_calendar_token,
    pursued_deadlines,
    revoke_calendar_token,
    user_for_calendar_token,
)
from storage.models import LANGUAGES, User, utcnow
from webui.auth import roles_required
from webui.calendar.feed import deadlines_ics, stage_name
from webui.calendar.forms import FeedForm
from webui.calendar.month import parse_month, weeks
from webui.db import db_session
from webui.formatting import weekday_date
from webui.search.routes import request_base_url

bp = Blueprint("calendar", __name__, url_prefix="/calendar", template_folder="templates")
READERS = ("admin", "desk", "staff")
ICS_TYPE = "text/calendar; charset=utf-8"
# The feed holds what a calendar app should keep in view: the last months and two years ahead.
FEED_PAST = timedelta(days=92)
FEED_AHEAD = timedelta(days=2 * 366)


def _timezone() -> str:
    return str(current_app.config["FOERDERDESK"].timezone)


def _user() -> User:
    user = db_session().get(User, current_user.id)
    if user is None:  # deleted while signed in
        abort(403)
    return user


def desk_url(entry: PursuedDeadline, external: bool = False) -> str:
    """The desk's page of this call for this profile, or the call's public page."""
    if "desk.pair" in current_app.view_functions:
        return url_for(
            "desk.pair", slug=entry.profile.slug, call_id=entry.call.id, _external=external
        )
    return url_for("search.show", call_id=entry.call.id, _external=external)


def _weekdays() -> list[tuple[str, str]]:
    """Monday to Sunday, each as (full name, short name), in the reader's language."""
    days = get_locale().days["format"]  # type: ignore[union-attr]
    return [(days["wide"][i], days["abbreviated"][i]) for i in range(7)]


@bp.get("/")
@roles_required(*READERS)
def month():  # type: ignore[no-untyped-def]
    """One month of deadlines (``?month=2026-12``; this month without it)."""
    tz = _timezone()
    zone = ZoneInfo(tz)
    today = utcnow().astimezone(zone).date()
    shown = parse_month(request.args.get("month"), today)
    if shown is None:
        abort(400, description=_("Give the month as 2026-12."))
    start, end = shown.bounds(tz)
    user = _user()
    entries = pursued_deadlines(db_session(), user, start, end)
    return render_template(
        "calendar/month.html",
        month=shown,
        title=format_date(shown.first, "LLLL yyyy"),
        weeks=weeks(shown, entries, tz, today),
        count=len(entries),
        today=today,
        weekdays=_weekdays(),
        day_label=weekday_date,
        clock=lambda value: format_datetime(value.astimezone(zone), "HH:mm"),
        stage_name=stage_name,
        desk_url=desk_url,
        has_feed=user.calendar_token_hash is not None,
        form=FeedForm(formdata=None),
    )


@bp.post("/feed")
@roles_required(*READERS)
def create_feed():  # type: ignore[no-untyped-def]
    """Make a new feed address (an old one stops working) and show it, this once."""
    if not FeedForm().validate_on_submit():
        abort(400)
    session = db_session()
    secret = create_calendar_token(session, _user())
    session.commit()
    address = url_for("calendar.feed", token=secret, _external=True)
    webcal = "webcal://" + address.split("://", 1)[1]
    response = Response(
        render_template("calendar/feed.html", address=address, webcal=webcal, form=FeedForm())
    )
    response.headers["Cache-Control"] = "no-store"  # the secret must not stay in a cache
    return response


@bp.post("/feed/revoke")
@roles_required(*READERS)
def revoke_feed():  # type: ignore[no-untyped-def]
    """Close the feed address: calendars that subscribed to it get nothing more."""
    if not FeedForm().validate_on_submit():
        abort(400)
    session = db_session()
    revoked = revoke_calendar_token(session, _user())
    session.commit()
    if revoked:
        flash(_("Your calendar feed is turned off; its address no longer works."), "info")
    return redirect(url_for("calendar.month"))


@bp.get("/feed/<token>.ics")
def feed(token: str):  # type: ignore[no-untyped-def]
    """The deadlines of a person's pursued calls, for a calendar app to subscribe to."""
    session = db_session()
    user = user_for_calendar_token(session, token)
    if user is None:
        abort(404)
    now = utcnow()
    base_url = request_base_url()
    host = urlsplit(base_url).hostname or "foerderdesk"
    entries = pursued_deadlines(session, user, now - FEED_PAST, now + FEED_AHEAD)
    # A calendar app sends no language cookie: the feed speaks the person's language.
    with force_locale(user.language if user.language in LANGUAGES else "de"):
        body = deadlines_ics(
            entries,
            base_url=base_url,
            host=host,
            name=_("Funding deadlines (foerderdesk)"),
            now=now,
            desk_url=lambda entry: desk_url(entry, external=True),
        )
    response = Response(body, content_type=ICS_TYPE)
    response.headers["Cache-Control"] = "private, max-age=900"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
