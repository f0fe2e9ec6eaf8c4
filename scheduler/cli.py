"""``foerderdesk queue``: see and do the work the web app queued (re-ranks, crawls now)."""

from __future__ import annotations

import signal
import time

import click
from sqlalchemy import select

from storage.cli import get_settings
from storage.db import make_engine, make_session_factory, session_scope
from storage.models import WorkItem


@click.group()
def queue() -> None:
    """Work the web app asked for: re-rank a profile, crawl a source now."""


@queue.command("list")
@click.option("--limit", default=20, show_default=True, help="How many items, newest first.")
@click.pass_context
def queue_list(ctx: click.Context, limit: int) -> None:
    """Show the newest queued, running and finished items."""
    engine = make_engine(get_settings(ctx))
    with session_scope(make_session_factory(engine)) as session:
        items = session.scalars(select(WorkItem).order_by(WorkItem.id.desc()).limit(limit)).all()
        if not items:
            click.echo("the queue is empty")
        for item in items:
            target = item.source_slug if item.kind == "crawl" else f"profile {item.profile_id}"
            when = item.created_at.strftime("%Y-%m-%d %H:%M UTC")
            error = f"  {item.error}" if item.error else ""
            click.echo(f"{item.id:>6}  {item.kind:<8} {target:<24} {item.state:<8} {when}{error}")
    engine.dispose()


class _Stop(Exception):
    pass


def _stop(signum: int, frame: object) -> None:
    raise _Stop


@queue.command("drain")
@click.option(
    "--watch",
    type=click.FloatRange(min=0.5),
    default=None,
    help="Keep draining every this many seconds until stopped (Ctrl+C or SIGTERM).",
)
@click.pass_context
def queue_drain(ctx: click.Context, watch: float | None) -> None:
    """Do the queued work now: crawls (each in its own process), then the re-match that is
    due (every profile when calls changed, else the queued profiles).

    Exits non-zero when an item failed (it stays recorded as failed, with its error).
    """
    from scheduler.work import drain_queue

    settings = get_settings(ctx)
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    failed = 0
    signal.signal(signal.SIGTERM, _stop)
    try:
        while True:
            report = drain_queue(factory, settings)
            failed += report.failed
            if report.did_anything or watch is None:
                click.echo(f"queue: {report}")
            if watch is None:
                break
            time.sleep(watch)
    except (KeyboardInterrupt, _Stop):
        click.echo("queue: stopped")
    finally:
        engine.dispose()
    if failed and watch is None:
        ctx.exit(1)
