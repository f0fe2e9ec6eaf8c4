"""One composing run: the session, the time and the settings, the signed links of a mail,
how a call is shown in it, and storing a message with the calls it carries.

Every kind of message (``scheduler.digests``) is composed through a :class:`MailRun`, so a
call reads the same in a digest, an alert and a reminder, and what is the same for many
subscribers — a profile's matches, a saved search's results, a call as shown in one
language — is worked out once per run.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from matcher.reasons import explanation_view
from matcher.search import SearchIndex, build_search_index, search_calls
from scheduler.mail_templates import render
from scheduler.mail_wording import N_, Wording
from storage.call_filters import CallFilter
from storage.config import Settings, ensure_instance
from storage.deadlines import DEFAULT_TIMEZONE, call_status, next_due
from storage.digest_queries import profile_candidates, record_sent
from storage.links import call_url, link
from storage.models import FundingCall, Match, Notification, Profile, Subscription
from storage.outbox import enqueue

log = logging.getLogger(__name__)

TOP = 10  # calls shown in a digest; the rest are counted and linked
SEARCH_LIMIT = 500  # results of a saved search looked at per run
PROFILE_PATH = "/desk/profiles/{slug}"  # webui.desk's profile page (a test holds them together)
SEARCH_PATH = "/"  # webui.search's search page
FREQUENCY = {
    "immediate": N_("as soon as there is something new, at most hourly"),
    "daily": N_("at most once a day"),
    "weekly": N_("at most once a week"),
}
FUNDER_TYPES = {
    "eu": N_("EU"),
    "federal": N_("Federal government"),
    "state": N_("Federal state (Land)"),
    "municipal": N_("Municipality"),
    "foundation": N_("Foundation"),
    "other": N_("Other"),
}
_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")
_TITLE_IN_SUBJECT = 90


@dataclass(frozen=True)
class DigestItem:
    """One call as a digest, an alert or a reminder shows it."""

    call_id: int
    title: str
    title_lang: str  # the call's language where it differs from the mail's, else ""
    url: str
    meta: str
    applicants: str
    deadline: str
    reasons: list[str]
    cautions: list[str] = field(default_factory=list)
    dismiss_url: str = ""


def search_url(base_url: str, flt: CallFilter) -> str:
    """The search page with a saved search's query and filters (the page's parameter names)."""
    kept = flt.link_params()
    query = urlencode(kept, doseq=True)
    return base_url.rstrip("/") + SEARCH_PATH + (f"?{query}" if query else "")


def profile_url(base_url: str, slug: str) -> str:
    """A profile's page of ranked calls on the desk."""
    return base_url.rstrip("/") + PROFILE_PATH.format(slug=quote(slug, safe=""))


def match_reasons(explanation: dict[str, Any], lang: str) -> tuple[list[str], list[str]]:
    """Why a call matched a profile and what to check first, as the desk's pages say it
    (the deadline is shown apart)."""
    view = explanation_view(explanation, lang)
    return view.reasons, view.cautions


class MailRun:
    """One composing run: the session, the time, the links and the caches it shares."""

    def __init__(
        self,
        session: Session,
        settings: Settings,
        now: datetime,
        index: SearchIndex | None,
        *,
        dry_run: bool = False,
    ) -> None:
        self.session = session
        self.settings = ensure_instance(settings)
        self.now = now
        self.dry_run = dry_run  # compose, but write nothing
        self._composed: list[Subscription] = []
        self._index = index
        self._wordings: dict[str, Wording] = {}
        self._profiles: dict[int, Profile | None] = {}
        self._profile_matches: dict[int, list[Match]] = {}
        self._searches: dict[str, tuple[list[FundingCall], dict[int, tuple[str, ...]], int]] = {}
        # A call reads the same in every mail of one language; only its dismiss link differs.
        self._items: dict[tuple[int, str, tuple[str, ...], tuple[str, ...]], DigestItem] = {}
        self._reasons: dict[tuple[int, str], tuple[list[str], list[str]]] = {}

    # -- shared pieces ---------------------------------------------------------------------
    def wording(self, lang: str) -> Wording:
        if lang not in self._wordings:
            self._wordings[lang] = Wording(lang, self.settings.timezone)
        return self._wordings[lang]

    def link(self, purpose: str, payload: dict[str, Any]) -> str:
        return link(self.settings.base_url, self.settings.secret_key, purpose, payload)

    def profile(self, profile_id: int | None) -> Profile | None:
        if profile_id is None:
            return None
        if profile_id not in self._profiles:
            self._profiles[profile_id] = self.session.get(Profile, profile_id)
        return self._profiles[profile_id]

    def index(self) -> SearchIndex:
        if self._index is None:
            self._index = build_search_index(self.session)
        return self._index

    def about(self, subscription: Subscription, w: Wording) -> str:
        """What a subscription brings, as "you subscribed to …" says it ("neue Treffer für
        „…“", "new results of your search “…”")."""
        if subscription.kind == "profile":
            profile = self.profile(subscription.profile_id)
            name = profile.name if profile else "?"
            return w._("new matches for %(name)s", name=w.quoted(name))
        if subscription.kind == "call":
            call = self.session.get(FundingCall, subscription.call_id)
            title = w.quoted(subject_title(call.title) if call else "?")
            return w._("changes and deadlines of the call %(title)s", title=title)
        text = CallFilter.from_dict(subscription.query or {}).text
        if text:
            return w._("new results of your search %(query)s", query=w.quoted(text))
        return w._("new results of your saved search")

    def item(
        self,
        call: FundingCall,
        w: Wording,
        subscription: Subscription,
        reasons: list[str] | None = None,
        cautions: list[str] | None = None,
    ) -> DigestItem:
        """A call as the mails show it: who may apply, next deadline in local time, why."""
        key = (call.id, w.lang, tuple(reasons or ()), tuple(cautions or ()))
        if key not in self._items:
            self._items[key] = self._item(call, w, reasons or [], cautions or [])
        dismiss = ""
        if subscription.kind != "call":
            dismiss = self.link("dismiss", {"s": subscription.id, "c": call.id})
        return replace(self._items[key], dismiss_url=dismiss)

    def _item(
        self, call: FundingCall, w: Wording, reasons: list[str], cautions: list[str]
    ) -> DigestItem:
        now = self.now
        if call.deadlines:
            found = next_due(call.deadlines, call.deadline_model, now)
        elif call.next_deadline_at is not None and call.next_deadline_at >= now:
            found = (call.next_deadline_at, DEFAULT_TIMEZONE)  # a call stored without rows
        else:
            found = None
        if found is not None:
            deadline = w.deadline(*found)
        elif call.deadline_model == "rolling":
            deadline = w._("rolling, no deadline")
        else:
            deadline = w._("no open deadline")
        parts = [call.funder or w._(FUNDER_TYPES.get(call.funder_type, "")), call.programme]
        if call_status(call, now) == "forthcoming" and call.opening_date:
            parts.append(w._("opens on %(day)s", day=w.date(call.opening_date)))
        return DigestItem(
            call_id=call.id,
            title=call.title,
            title_lang=call.language if call.language and call.language != w.lang else "",
            url=call_url(self.settings.base_url, call.id),
            meta=" · ".join(p for p in parts if p),
            applicants=w.applicants(list(call.eligible_applicants or [])),
            deadline=deadline,
            reasons=reasons,
            cautions=cautions,
        )

    def match_reasons(self, match: Match, lang: str) -> tuple[list[str], list[str]]:
        """:func:`match_reasons` of a match, made once per language per run."""
        key = (match.id, lang)
        if key not in self._reasons:
            self._reasons[key] = match_reasons(match.explanation, lang)
        return self._reasons[key]

    # -- candidates, computed once per profile or saved search per run ---------------------
    def profile_matches(self, profile_id: int) -> list[Match]:
        if profile_id not in self._profile_matches:
            self._profile_matches[profile_id] = profile_candidates(
                self.session, profile_id, self.now
            )
        return self._profile_matches[profile_id]

    def search_hits(
        self, query: dict[str, Any]
    ) -> tuple[list[FundingCall], dict[int, tuple[str, ...]], int]:
        """The saved search's current results (best first), the words of the query each one
        matched (in the query's order), and how many results there are in all."""
        key = json.dumps(query, sort_keys=True)
        if key not in self._searches:
            flt = CallFilter.from_dict(query)
            result = search_calls(
                self.session,
                flt,
                index=self.index() if flt.text.strip() else None,
                per_page=SEARCH_LIMIT,
                now=self.now,
                timezone=self.settings.timezone,
            )
            words = self._query_words(flt.text, result.hits) if flt.text.strip() else {}
            self._searches[key] = ([h.call for h in result.hits], words, result.total)
        return self._searches[key]

    def _query_words(self, text: str, hits: Sequence[Any]) -> dict[int, tuple[str, ...]]:
        """The words of the query each hit matched: its stems among the hit's matched terms
        (in the call's language), or the word itself in the call's title or summary."""
        analyzer = self.index().model.analyzer
        words = list(dict.fromkeys(_WORD.findall(text)))
        out: dict[int, tuple[str, ...]] = {}
        for hit in hits[: TOP * 3]:
            call = hit.call
            shown = f"{call.title} {call.summary}".casefold()
            out[call.id] = tuple(
                word
                for word in words
                if word.casefold() in shown
                or set(analyzer.analyze(word, call.language or "")) & hit.terms
            )
        return out

    # -- storing ---------------------------------------------------------------------------
    def composed(self, subscription: Subscription) -> None:
        """Note that ``subscription`` had its digest (or alert) of this period; stored for a
        whole chunk at once by :meth:`record_composed`."""
        if not self.dry_run:
            self._composed.append(subscription)

    def record_composed(self) -> None:
        """Set ``last_sent_at`` of the subscriptions composed since the last call, in one
        UPDATE (one per subscription would be another round trip for every message)."""
        if not self._composed:
            return
        ids = [s.id for s in self._composed]
        self.session.execute(
            update(Subscription)
            .where(Subscription.id.in_(ids))
            .values(last_sent_at=self.now)
            .execution_options(synchronize_session=False)
        )
        for subscription in self._composed:
            set_committed_value(subscription, "last_sent_at", self.now)
        self._composed = []

    def store(
        self,
        subscription: Subscription,
        *,
        kind: str,
        period: str,
        subject: str,
        template: str,
        context: dict[str, Any],
        call_ids: Sequence[int] = (),
    ) -> Notification | None:
        """Render and store one message (and the calls it carries) in one savepoint; None
        when that (kind, period) is there already or a call was recorded meanwhile. In a dry
        run the message is made but not stored."""
        w = self.wording(subscription.language)
        subject = " ".join(subject.split())  # a header is one line
        unsubscribe = self.link("unsubscribe", {"s": subscription.id})
        text, html = render(
            template,
            w.lang,
            subject=subject,
            about=self.about(subscription, w),
            frequency=w._(FREQUENCY.get(subscription.frequency, subscription.frequency)),
            unsubscribe_url=unsubscribe,
            manage_url=self.link("manage", {"e": subscription.email}),
            **context,
        )
        if self.dry_run:
            return Notification(
                subscription_id=subscription.id,
                kind=kind,
                period=period,
                recipient=subscription.email,
                subject=subject,
                body_text=text,
                body_html=html,
                unsubscribe_url=unsubscribe,
            )
        try:
            with self.session.begin_nested():
                message = enqueue(
                    self.session,
                    subscription,
                    kind=kind,
                    period=period,
                    subject=subject,
                    body_text=text,
                    body_html=html,
                    unsubscribe_url=unsubscribe,
                    # Digests, alerts and reminders go to active subscriptions only, which
                    # exclude suppressed addresses; a confirmation is checked.
                    suppressed=None if kind == "confirm" else False,
                )
                if message is not None and call_ids:
                    record_sent(self.session, subscription, call_ids, message, self.now)
        except IntegrityError:
            log.info("subscription %s: a call was recorded meanwhile; next run", subscription.id)
            return None
        return message


def subject_title(title: str) -> str:
    """A title fit for a subject line: one line (sources send line breaks), not too long."""
    title = " ".join(title.split())
    return title if len(title) <= _TITLE_IN_SUBJECT else title[: _TITLE_IN_SUBJECT - 1] + "…"
