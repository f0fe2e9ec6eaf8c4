"""The mails the web app writes: the opt-in confirmation and the link to one's subscriptions.

They are only stored in the outbox (``storage.outbox.enqueue``); the scheduler's sender
delivers them. Each is written in the subscriber's language, whatever the language of the
page that asked for it, with absolute links to ``FOERDERDESK_BASE_URL``.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from storage.config import Settings
from storage.links import CONFIRM_MAX_AGE_SECONDS, MANAGE_MAX_AGE_SECONDS, link
from storage.models import Notification, Subscription, utcnow
from storage.outbox import enqueue
from storage.subscriptions import subscription_targets
from webui.subscriptions.descriptions import FREQUENCY_PROMISE, Described, describe

DAY = 24 * 3600


@dataclass(frozen=True)
class Mail:
    """A composed message: subject, plain text and HTML."""

    subject: str
    text: str
    html: str


def _settings() -> Settings:
    return current_app.config["FOERDERDESK"]


def _absolute(settings: Settings, path: str) -> str:
    return settings.base_url.rstrip("/") + path if path else ""


def _links(settings: Settings, subscription: Subscription) -> dict[str, str]:
    def signed(purpose: str, payload: dict[str, object]) -> str:
        return link(settings.base_url, settings.secret_key, purpose, payload)

    return {
        "confirm_url": signed("confirm", {"s": subscription.id}),
        "unsubscribe_url": signed("unsubscribe", {"s": subscription.id}),
        "manage_url": signed("manage", {"e": subscription.email}),
        "site_url": settings.base_url.rstrip("/") + "/",
    }


def _render(name: str, **context: object) -> tuple[str, str]:
    return (
        render_template(f"mail/{name}.txt", **context),
        render_template(f"mail/{name}.html", **context),
    )


def compose_confirmation(session: Session, subscription: Subscription) -> Mail:
    """The opt-in mail of ``subscription``: what it is, how often, and the confirm link."""
    settings = _settings()
    target = subscription_targets(session, [subscription]).get(subscription.id)
    with force_locale(subscription.language):
        described: Described = describe(subscription, target)
        context = {
            "described": described,
            "described_url": _absolute(settings, described.path),
            "frequency": str(FREQUENCY_PROMISE[subscription.frequency]),
            "follows_call": subscription.kind == "call",
            "valid_days": CONFIRM_MAX_AGE_SECONDS // DAY,
            "lang": subscription.language,
            **_links(settings, subscription),
        }
        text, html = _render("confirm", **context)
        subject = _("Please confirm your subscription to foerderdesk")
    return Mail(subject=subject, text=text, html=html)


def compose_manage_link(subscription: Subscription, language: str) -> Mail:
    """A mail with the link to every subscription of ``subscription.email``."""
    settings = _settings()
    with force_locale(language):
        context = {
            "valid_days": MANAGE_MAX_AGE_SECONDS // DAY,
            "lang": language,
            **_links(settings, subscription),
        }
        text, html = _render("manage", **context)
        subject = _("Your subscriptions at foerderdesk")
    return Mail(subject=subject, text=text, html=html)


def queue_confirmation(session: Session, subscription: Subscription) -> Notification | None:
    """Store the opt-in mail of a new subscription, once per subscription.

    Asked again for a subscription that is already confirmed, the person gets the link to
    their subscriptions instead (at most once a day), so that the page can say the same
    thing in every case and never tells whether an address is subscribed.
    """
    if subscription.confirmed_at is not None:
        return queue_manage_link(session, subscription, subscription.language)
    mail = compose_confirmation(session, subscription)
    return enqueue(
        session,
        subscription,
        kind="confirm",
        period=f"confirm {subscription.id}",
        subject=mail.subject,
        body_text=mail.text,
        body_html=mail.html,
        unsubscribe_url=_links(_settings(), subscription)["unsubscribe_url"],
    )


def queue_manage_link(
    session: Session, subscription: Subscription, language: str
) -> Notification | None:
    """Store the "your subscriptions" mail, at most once a day per address.

    It is a message of kind "manage" (sent whether or not the subscription is confirmed or
    still active: the person asked for it) with the period ``manage <local date>``.
    """
    today = utcnow().astimezone(ZoneInfo(_settings().timezone)).date().isoformat()
    mail = compose_manage_link(subscription, language)
    return enqueue(
        session,
        subscription,
        kind="manage",
        period=f"manage {today}",
        subject=mail.subject,
        body_text=mail.text,
        body_html=mail.html,
    )
