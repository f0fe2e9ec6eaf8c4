"""``foerderdesk digests send`` and ``foerderdesk subscriptions add|list``.

Composing and sending are the same workflow functions the scheduler's job calls
(``scheduler.digests.compose_due``, ``scheduler.mailer.send_outbox``); these commands only
read their options and report.
"""

from __future__ import annotations

import click
from sqlalchemy import select

from storage.cli import get_settings
from storage.db import make_engine, make_session_factory, session_scope
from storage.models import FREQUENCIES, LANGUAGES, FundingCall, Subscription, SuppressedAddress
from storage.outbox import outbox_counts


@click.group()
def digests() -> None:
    """Mail to subscribers: digests, change alerts and deadline reminders."""


@digests.command("send")
@click.option("--dry-run", is_flag=True, help="Compose and show what would be sent; store nothing.")
@click.option("--limit", type=click.IntRange(min=1), help="Send at most this many messages.")
@click.option(
    "--workers",
    type=click.IntRange(1, 16),
    default=None,
    help="Senders side by side, each with one SMTP connection (default: 4).",
)
@click.pass_context
def digests_send(ctx: click.Context, dry_run: bool, limit: int | None, workers: int | None) -> None:
    """Compose everything due into the outbox, then send the outbox.

    Reports sent / deferred / failed / suppressed; exits non-zero only when a message failed
    for good (deferred ones are tried again by a later run).
    """
    from scheduler.digests import compose_due
    from scheduler.mailer import WORKERS, send_outbox

    settings = get_settings(ctx)
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    try:
        composed = compose_due(factory, settings, dry_run=dry_run)
        click.echo(
            f"composed {composed.digests} digest(s), {composed.alerts} change alert(s), "
            f"{composed.reminders} reminder(s)" + (" (dry run: nothing stored)" if dry_run else "")
        )
        if dry_run:
            with factory() as session:
                counts = outbox_counts(session)
            click.echo(
                f"already in the outbox: {counts['pending']} waiting, "
                f"{counts['deferred']} deferred (these would be sent too)"
            )
            for message in composed.messages:
                click.echo(f"\n=== {message.kind} to {message.recipient}: {message.subject}")
                click.echo(message.body_text)
            return
        report = send_outbox(factory, settings, limit=limit, workers=workers or WORKERS)
        click.echo(str(report))
    finally:
        engine.dispose()
    if report.failed:
        ctx.exit(1)


@click.group()
def subscriptions() -> None:
    """Who gets which mail: add a subscription, list them."""


@subscriptions.command("add")
@click.option("--email", required=True, help="The subscriber's address.")
@click.option("--profile", "profile_slug", help="Subscribe to this profile's matches (slug).")
@click.option("--search", "search_text", help="Subscribe to a search with these words.")
@click.option("--call", "call_id", type=int, help="Follow this call (its id): changes, deadlines.")
@click.option("--frequency", type=click.Choice(FREQUENCIES), required=True)
@click.option("--language", type=click.Choice(LANGUAGES), default="de", show_default=True)
@click.option(
    "--confirmed",
    is_flag=True,
    help="Skip the opt-in mail (for lists that were confirmed elsewhere).",
)
@click.pass_context
def subscriptions_add(
    ctx: click.Context,
    email: str,
    profile_slug: str | None,
    search_text: str | None,
    call_id: int | None,
    frequency: str,
    language: str,
    confirmed: bool,
) -> None:
    """Subscribe EMAIL to one profile, one search or one call.

    Without --confirmed the subscription waits for its opt-in: a confirmation mail is put in
    the outbox (sent by `foerderdesk digests send`) and nothing else is sent before it is
    confirmed.
    """
    from scheduler.digests import compose_confirmation
    from storage.subscriptions import SubscriptionError, subscribable_profile, subscribe

    targets = [t for t in (profile_slug, search_text, call_id) if t is not None]
    if len(targets) != 1:
        raise click.UsageError("name exactly one of --profile, --search and --call")
    settings = get_settings(ctx)
    engine = make_engine(settings)
    try:
        with session_scope(make_session_factory(engine)) as session:
            profile_id = None
            if profile_slug is not None:
                profile = subscribable_profile(session, profile_slug)
                if profile is None:
                    raise click.ClickException(f"no active profile {profile_slug!r}")
                profile_id = profile.id
            kind = "profile" if profile_slug else "call" if call_id is not None else "search"
            try:
                subscription = subscribe(
                    session,
                    email=email,
                    kind=kind,
                    profile_id=profile_id,
                    call_id=call_id,
                    query=search_text if kind == "search" else None,
                    frequency=frequency,
                    language=language,
                    confirmed=confirmed,
                )
            except SubscriptionError as exc:
                raise click.ClickException(str(exc)) from None
            state = "confirmed" if subscription.confirmed_at else "waiting for confirmation"
            click.echo(f"subscription {subscription.id} for {subscription.email}: {state}")
            if subscription.confirmed_at is None and compose_confirmation(
                session, settings, subscription
            ):
                click.echo("confirmation mail queued (sent by: foerderdesk digests send)")
    finally:
        engine.dispose()


@subscriptions.command("list")
@click.pass_context
def subscriptions_list(ctx: click.Context) -> None:
    """Every subscription: address, what to, how often, language, state."""
    settings = get_settings(ctx)
    engine = make_engine(settings)
    try:
        with session_scope(make_session_factory(engine)) as session:
            from storage.subscriptions import subscription_targets

            subs = list(session.scalars(select(Subscription).order_by(Subscription.id)))
            if not subs:
                click.echo("no subscriptions")
                return
            targets = subscription_targets(session, subs)
            suppressed = set(session.scalars(select(SuppressedAddress.email)))
            for s in subs:
                click.echo(
                    f"{s.id:>6}  {s.email:<32} {_target(s, targets.get(s.id)):<40} "
                    f"{s.frequency:<9} {s.language}  {_state(s, suppressed)}"
                    + (f"  last sent {s.last_sent_at:%Y-%m-%d %H:%M} UTC" if s.last_sent_at else "")
                )
    finally:
        engine.dispose()


def _target(subscription: Subscription, target: object) -> str:
    if subscription.kind == "search":
        words = (subscription.query or {}).get("text", "")
        return f"search {words!r}" if words else f"search {subscription.query}"
    if isinstance(target, FundingCall):
        return f"call {target.id} {target.title[:30]}"
    slug = getattr(target, "slug", "?")
    return f"{subscription.kind} {slug}"


def _state(subscription: Subscription, suppressed: set[str]) -> str:
    if subscription.unsubscribed_at is not None:
        return "unsubscribed"
    if subscription.email.lower() in suppressed:
        return "suppressed"
    return "active" if subscription.confirmed_at else "unconfirmed"
