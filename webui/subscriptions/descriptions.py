"""What a subscription is about, in words: for the pages and for the mails alike.

Called inside ``force_locale`` for a mail, so every text is made in the subscriber's
language, not the language of the page that stored the mail.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from storage.call_filters import DEFAULT_STATUSES, CallFilter
from storage.models import FundingCall, Profile, Subscription
from webui import formatting, labels
from webui.search.params import SearchArgs

FREQUENCY = {
    "immediate": _l("immediately"),
    "daily": _l("daily"),
    "weekly": _l("weekly"),
}
# What the subscriber may expect, per frequency, as a promise they can hold us to.
FREQUENCY_PROMISE = {
    "immediate": _l("as soon as new calls are found"),
    "daily": _l("at most one email a day"),
    "weekly": _l("at most one email a week"),
}


@dataclass(frozen=True)
class Described:
    """A subscription in words: a heading, what it sends, the search's filters (label,
    value) and the path of the page that shows the same ("" when the target is gone)."""

    kind: str
    heading: str
    sends: str
    details: list[tuple[str, str]]
    path: str


def search_details(flt: CallFilter) -> list[tuple[str, str]]:
    """The filters of a saved search as (label, value), in the search form's order (its
    words are in the heading)."""
    tz = current_app.config["FOERDERDESK"].timezone
    out: list[tuple[str, str]] = []
    if flt.applicant_type:
        who = str(labels.APPLICANT.get(flt.applicant_type, flt.applicant_type))
        if flt.include_unstated:
            who = _("%(who)s, and calls that do not state who may apply", who=who)
        out.append((_("Who may apply"), who))
    if flt.funder_type:
        out.append((_("Funder"), str(labels.FUNDER_TYPE.get(flt.funder_type, flt.funder_type))))
    if flt.programme:
        out.append((_("Programme"), flt.programme))
    if flt.source:
        out.append((_("Source"), flt.source))
    if flt.language:
        out.append(
            (_("Language of the call"), str(labels.LANGUAGE.get(flt.language, flt.language)))
        )
    if tuple(flt.statuses) != DEFAULT_STATUSES:
        statuses = ", ".join(str(labels.STATUS.get(s, s)) for s in flt.statuses)
        out.append((_("Status"), statuses))
    if flt.deadline_from:
        out.append((_("Deadline from"), formatting.local_date(flt.deadline_from, tz)))
    if flt.deadline_to:
        out.append((_("Deadline until"), formatting.local_date(flt.deadline_to, tz)))
    if flt.min_grant_eur is not None:
        out.append((_("Grant at least"), formatting.euros(flt.min_grant_eur)))
    return out


def search_path(flt: CallFilter) -> str:
    """The search page showing the calls of ``flt``."""
    return url_for("search.index", **SearchArgs(filter=flt).query_string())


def _profile_path(profile: Profile) -> str:
    # The desk's page of the profile where the desk is installed, else the plain one.
    endpoint = "desk.profile" if "desk.profile" in current_app.view_functions else "profiles.show"
    return url_for(endpoint, slug=profile.slug)


def describe_search(flt: CallFilter) -> Described:
    """A saved search (or the search about to be saved) in words."""
    heading = _("Search for “%(words)s”", words=flt.text) if flt.text else _("All open calls")
    return Described(
        kind="search",
        heading=heading,
        sends=_("New calls that fit this search"),
        details=search_details(flt),
        path=search_path(flt),
    )


def describe_call(call: FundingCall) -> Described:
    """Following ``call`` in words."""
    return Described(
        kind="call",
        heading=_("Call “%(title)s”", title=call.title),
        sends=_("Changes to this call and reminders before its deadlines"),
        details=[],
        path=url_for("search.show", call_id=call.id),
    )


def describe_profile(profile: Profile) -> Described:
    """A profile's matches in words."""
    return Described(
        kind="profile",
        heading=_("Matches of “%(name)s”", name=profile.name),
        sends=_("New calls that match this project or partner"),
        details=[],
        path=_profile_path(profile),
    )


def describe(subscription: Subscription, target: Profile | FundingCall | None) -> Described:
    """``subscription`` in words; ``target`` is its profile or call (None: a search, or a
    target that no longer exists)."""
    if subscription.kind == "search":
        return describe_search(CallFilter.from_dict(subscription.query or {}))
    if isinstance(target, FundingCall):
        return describe_call(target)
    if isinstance(target, Profile):
        return describe_profile(target)
    return Described(
        kind=subscription.kind,
        heading=_("A call that no longer exists")
        if subscription.kind == "call"
        else _("A profile that no longer exists"),
        sends="",
        details=[],
        path="",
    )
