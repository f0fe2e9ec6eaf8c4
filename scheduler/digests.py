"""Composing mail into the outbox: digests of new calls, change alerts, deadline reminders and
the opt-in confirmation for subscriptions made on the command line.

Each message is stored as a ``Notification`` (``storage.outbox.enqueue``) with a period that
makes it unique — a digest per hour, day or ISO week by frequency, a change alert per newest
change, a reminder per deadline and stage — so composing twice, or in two processes at once,
stores it once. A digest and the calls it carries (``SubscriptionCall``) are stored in one
savepoint: both go in or neither does, so a call is never sent twice on a subscription.
Nothing is sent here; ``scheduler.mailer`` sends the outbox. What every kind of message
shares (links, how a call is shown, storing) is in ``scheduler.mail_run``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from matcher.search import SearchIndex
from scheduler.mail_run import TOP, MailRun, profile_url, search_url, subject_title
from storage.call_filters import CallFilter
from storage.config import Settings
from storage.digest_queries import (
    changes_since_last_alert,
    digest_period,
    due_reminders,
    due_subscriptions,
    seen_call_ids,
)
from storage.models import FundingCall, Notification, Subscription, utcnow

CHUNK = 200  # subscriptions composed per transaction


@dataclass
class ComposeReport:
    """What one composing run stored in the outbox; in a dry run, also the messages it
    would have stored (a real run keeps none: 5,000 digests are many megabytes of text)."""

    digests: int = 0
    alerts: int = 0
    reminders: int = 0
    messages: list[Notification] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.digests + self.alerts + self.reminders


# --- digests ------------------------------------------------------------------------------
def compose_digest(run: MailRun, subscription: Subscription, seen: set[int]) -> Notification | None:
    """A digest of the calls new to a profile or search subscription; None if none are."""
    w = run.wording(subscription.language)
    base = run.settings.base_url
    if subscription.kind == "profile":
        profile = run.profile(subscription.profile_id)
        if profile is None or not profile.active:
            return None
        fresh = [m for m in run.profile_matches(profile.id) if m.call_id not in seen]
        shown = [
            run.item(m.call, w, subscription, *run.match_reasons(m, w.lang)) for m in fresh[:TOP]
        ]
        more = len(fresh) - len(shown)
        more_url = profile_url(base, profile.slug)
        name = w.quoted(profile.name)
        subject = w.n_(
            "%(num)d new funding call for %(name)s",
            "%(num)d new funding calls for %(name)s",
            len(fresh),
            name=w.quoted(subject_title(profile.name)),
        )
    else:
        calls, words, total = run.search_hits(subscription.query or {})
        fresh_calls = [c for c in calls if c.id not in seen]
        beyond = max(total - len(calls), 0)  # results past the looked-at ones: unseen
        shown = []
        for call in fresh_calls[:TOP]:
            matched = words.get(call.id, ())
            reasons = (
                [w._("Matches your search: %(words)s", words=", ".join(matched))]
                if matched
                else [w._("Matches your search")]
            )
            shown.append(run.item(call, w, subscription, reasons))
        more = len(fresh_calls) - len(shown) + beyond
        flt = CallFilter.from_dict(subscription.query or {})
        more_url = search_url(base, flt)
        name = w.quoted(flt.text) if flt.text else ""
        count = len(shown) + more
        if flt.text:
            subject = w.n_(
                "%(num)d new funding call for your search %(query)s",
                "%(num)d new funding calls for your search %(query)s",
                count,
                query=w.quoted(subject_title(flt.text)),
            )
        else:
            subject = w.n_(
                "%(num)d new funding call for your saved search",
                "%(num)d new funding calls for your saved search",
                count,
            )
    if not shown:
        return None
    message = run.store(
        subscription,
        kind="digest",
        period=digest_period(subscription.frequency, run.now, run.settings.timezone),
        subject=subject,
        template="digest",
        context={
            "items": shown,
            "more": more,
            "more_url": more_url,
            "kind": subscription.kind,
            "name": name,
        },
        call_ids=[item.call_id for item in shown],
    )
    if message is not None:
        run.composed(subscription)
    return message


# --- change alerts ------------------------------------------------------------------------
def compose_change_alert(run: MailRun, subscription: Subscription) -> Notification | None:
    """An alert of what changed in a followed call since the last alert; None if nothing."""
    changes = changes_since_last_alert(run.session, subscription, run.now)
    if not changes:
        return None
    call = run.session.get(FundingCall, subscription.call_id)
    if call is None:
        return None
    w = run.wording(subscription.language)
    sentences = w.change_sentences(changes)
    if not sentences:
        run.composed(subscription)  # changed and changed back: nothing to tell
        return None
    message = run.store(
        subscription,
        kind="change",
        period=f"call {call.id} change {max(c.id for c in changes)}",
        subject=w._("Changes to %(title)s", title=w.quoted(subject_title(call.title))),
        template="change",
        context={"item": run.item(call, w, subscription), "sentences": sentences},
    )
    if message is not None:
        run.composed(subscription)
    return message


# --- deadline reminders -------------------------------------------------------------------
def compose_reminders(run: MailRun) -> list[Notification]:
    """A reminder 14 and 3 days before each deadline stage of followed and pursued calls."""
    stored: list[Notification] = []
    for reminder in due_reminders(run.session, run.now):
        subscription = reminder.subscription
        already = run.session.scalar(
            select(Notification.id).where(
                Notification.subscription_id == subscription.id,
                Notification.kind == "reminder",
                Notification.period == reminder.period,
            )
        )
        if already:
            continue
        w = run.wording(subscription.language)
        call = reminder.call
        days = w.days_between(run.now, reminder.due_at)
        title = w.quoted(subject_title(call.title))
        if days <= 0:
            subject = w._("Deadline today: %(title)s", title=title)
        elif days == 1:
            subject = w._("Deadline tomorrow: %(title)s", title=title)
        else:
            subject = w.n_(
                "Deadline in %(num)d day: %(title)s",
                "Deadline in %(num)d days: %(title)s",
                days,
                title=title,
            )
        staged = call.deadline_model in ("two_stage", "multiple_cutoff")
        stage = reminder.deadline.stage if staged else ""
        profile = run.profile(subscription.profile_id)
        message = run.store(
            subscription,
            kind="reminder",
            period=reminder.period,
            subject=subject,
            template="reminder",
            context={
                "item": run.item(call, w, subscription),
                "due": w.deadline(reminder.due_at, reminder.deadline.timezone),
                "days": days,
                "stage": stage,
                "profile_name": w.quoted(profile.name) if profile else "",
            },
        )
        if message is not None:
            stored.append(message)
    return stored


# --- confirmation -------------------------------------------------------------------------
def compose_confirmation(
    session: Session, settings: Settings, subscription: Subscription, now: datetime | None = None
) -> Notification | None:
    """The opt-in mail for a subscription made on the command line: a signed confirmation
    link, and a promise that nothing else comes before it is followed."""
    run = MailRun(session, settings, now or utcnow(), None)
    w = run.wording(subscription.language)
    return run.store(
        subscription,
        kind="confirm",
        period="opt-in",
        subject=w._("Please confirm your subscription"),
        template="confirm",
        context={"confirm_url": run.link("confirm", {"s": subscription.id})},
    )


# --- a whole run --------------------------------------------------------------------------
def compose_due(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    now: datetime | None = None,
    index: SearchIndex | None = None,
    dry_run: bool = False,
    frequencies: Sequence[str] | None = None,
    reminders: bool = True,
) -> ComposeReport:
    """Compose everything due at ``now`` into the outbox: digests and change alerts for the
    subscriptions whose period has come, and the reminders of near deadlines.

    Commits every :data:`CHUNK` subscriptions, so a long run never holds the database's
    writer lock for long; a run that dies is composed again by the next (the periods make
    that harmless). ``dry_run``: compose the same in one transaction and roll it back; the
    report's messages say what would have been stored (it writes nothing at all: it does not
    lean on a rollback). ``frequencies`` limits the run to subscriptions of those frequencies
    (the scheduler composes the daily digests in the morning, not at midnight); ``reminders``
    says whether deadline reminders are composed too.
    """
    now = now or utcnow()
    report = ComposeReport()
    session = factory()
    try:
        run = MailRun(session, settings, now, index, dry_run=dry_run)
        due = due_subscriptions(session, now, run.settings.timezone, frequencies=frequencies)
        for start in range(0, len(due), CHUNK):
            chunk = due[start : start + CHUNK]
            seen = seen_call_ids(session, [s.id for s in chunk])
            # One savepoint per chunk around the messages' own: SQLite's driver begins its
            # transaction with the first SAVEPOINT, and without this each message's RELEASE
            # would commit on its own.
            with session.begin_nested():
                for subscription in chunk:
                    if subscription.kind == "call":
                        message = compose_change_alert(run, subscription)
                        report.alerts += message is not None
                    else:
                        message = compose_digest(run, subscription, seen[subscription.id])
                        report.digests += message is not None
                    if message is not None and dry_run:
                        report.messages.append(message)
                run.record_composed()
            if not dry_run:
                session.commit()
        composed = compose_reminders(run) if reminders else []
        report.reminders = len(composed)
        if dry_run:
            report.messages.extend(composed)
            session.rollback()
        else:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    return report
