"""The crawler's ``foerderdesk`` subcommands: ``crawl``, ``calls export`` and ``mirror serve``."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crawler.runs import runs_table
from crawler.sources import SourcesFileError, load_sources, sources_path
from storage.cli import foerderdesk_command, get_settings
from storage.config import Settings
from storage.db import make_engine, make_session_factory, session_scope
from storage.deadlines import call_status
from storage.models import CALL_STATUSES, CrawlRun, FundingCall, utcnow
from storage.queries import latest_crawl_runs
from storage.serialize import call_to_dict

CSV_COLUMNS = (
    "source",
    "source_id",
    "url",
    "title",
    "programme",
    "call_identifier",
    "funder",
    "funder_type",
    "language",
    "status",
    "deadline_model",
    "deadlines",
    "next_deadline",
    "eligible_applicants",
    "eligibility_inferred",
    "budget_eur",
    "first_seen",
    "last_changed",
)


def crawl_environment(settings: Settings) -> dict[str, str]:
    """The environment for ``python -m crawler``: this invocation's settings, explicitly."""
    env = dict(os.environ)
    env.update(
        {
            "FOERDERDESK_DATABASE_URL": settings.sqlalchemy_url,
            "FOERDERDESK_INSTANCE_PATH": str(settings.instance_path),
            "FOERDERDESK_CONTACT_EMAIL": settings.contact_email,
            "FOERDERDESK_LOG_LEVEL": settings.log_level,
        }
    )
    if settings.sources_file:
        env["FOERDERDESK_SOURCES_FILE"] = settings.sources_file
    return env


@click.command("crawl")
@click.argument("sources", nargs=-1)
@click.option("--mirror", default="", help="Send every request to this mirror (README: Mirrors).")
@click.option("--status", "show_status", is_flag=True, help="Show the last crawl runs and exit.")
@click.option("--limit", default=20, show_default=True, help="Runs shown by --status.")
@click.option("--no-match", is_flag=True, help="Do not re-match afterwards, even if calls changed.")
@click.pass_context
def crawl(
    ctx: click.Context,
    sources: tuple[str, ...],
    mirror: str,
    show_status: bool,
    limit: int,
    no_match: bool,
) -> None:
    """Crawl SOURCES (default: every enabled source), each in its own process.

    Exits non-zero if any crawl failed. A partial crawl (some errors) keeps what it
    stored but withdraws nothing; see `foerderdesk crawl --status`. When calls were added,
    changed or withdrawn, the matches are re-ranked afterwards (`foerderdesk match`).
    """
    settings = get_settings(ctx)
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    if show_status:
        with session_scope(factory) as session:
            click.echo(runs_table(latest_crawl_runs(session, limit)))
        engine.dispose()
        return
    try:
        entries = load_sources(sources_path(settings))
    except SourcesFileError as exc:
        raise click.ClickException(str(exc)) from None
    by_slug = {e.slug: e for e in entries}
    unknown = [s for s in sources if s not in by_slug]
    if unknown:
        known = ", ".join(by_slug) or "none"
        raise click.ClickException(f"unknown source(s) {', '.join(unknown)} (known: {known})")
    chosen = [by_slug[s] for s in sources] if sources else [e for e in entries if e.enabled]
    if not chosen:
        raise click.ClickException("no enabled source to crawl")

    started = utcnow()
    failed: list[str] = []
    env = crawl_environment(settings)
    for entry in chosen:
        click.echo(f"== crawling {entry.slug} ({entry.name})", err=True)
        command = [sys.executable, "-m", "crawler", entry.slug]
        if mirror:
            command += ["--mirror", mirror]
        # One process per source: Twisted's reactor cannot restart, and one broken site
        # must not take the other crawls down with it.
        code = subprocess.run(command, env=env, check=False).returncode
        if code not in (0, 3):
            failed.append(entry.slug)
    with session_scope(factory) as session:
        runs = session.scalars(
            select(CrawlRun)
            .where(CrawlRun.started_at >= started)
            .options(selectinload(CrawlRun.source))
            .order_by(CrawlRun.id)
        ).all()
        click.echo(runs_table(list(runs)))
        changed = sum(r.calls_new + r.calls_updated + r.calls_withdrawn for r in runs)
    engine.dispose()
    if changed and not no_match:
        # The matcher is another package: hand the work over by command, not by import.
        click.echo(f"== {changed} call(s) new, changed or withdrawn: re-matching", err=True)
        if subprocess.run(foerderdesk_command(settings, "match", "--trigger", "crawl"),
                          check=False).returncode != 0:  # fmt: skip
            click.echo("re-matching failed; the previous matches are kept", err=True)
    if failed:
        click.echo(f"failed: {', '.join(failed)}", err=True)
        ctx.exit(1)


@click.group("calls")
def calls() -> None:
    """Stored funding calls."""


def _export_rows(session: Any, statuses: set[str], base_url: str) -> Iterator[dict[str, Any]]:
    now = utcnow()
    stmt = (
        select(FundingCall)
        .options(selectinload(FundingCall.deadlines))
        .order_by(FundingCall.source, FundingCall.source_id)
        .execution_options(yield_per=200)
    )
    for call in session.scalars(stmt):
        if statuses and call_status(call, now) not in statuses:
            continue
        yield call_to_dict(call, now, base_url=base_url)


def _csv_value(name: str, value: Any) -> Any:
    if name == "deadlines":
        return "; ".join(
            f"{d['due'] or 'yearly ' + str(d.get('recurring'))}"
            + (f" (stage {d['stage']})" if d["stage"] else "")
            for d in value
        )
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return "" if value is None else value


@calls.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True
)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(CALL_STATUSES),
    help="Only calls with this status as of today (repeatable).",
)
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-")
@click.pass_context
def calls_export(ctx: click.Context, fmt: str, statuses: tuple[str, ...], output: IO[str]) -> None:
    """Every stored call, one JSON object a line (or CSV), with its status as of today."""
    settings = get_settings(ctx)
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    count = 0
    with session_scope(factory) as session:
        rows = _export_rows(session, set(statuses), settings.base_url)
        if fmt == "jsonl":
            for row in rows:
                output.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
        else:
            writer = csv.DictWriter(output, fieldnames=CSV_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow({k: _csv_value(k, row.get(k)) for k in CSV_COLUMNS})
                count += 1
    engine.dispose()
    click.echo(f"{count} call(s) exported", err=True)


@click.group("mirror")
def mirror() -> None:
    """Serve recorded snapshots as a crawl mirror (for the demo, tests and offline checks)."""


@mirror.command("serve")
@click.argument("snapshot", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, help="0 picks a free port.")
def mirror_serve(snapshot: Path | None, host: str, port: int) -> None:
    """Serve SNAPSHOT (a directory or .tar.gz; default: the bundled demo snapshot) until
    interrupted. Then crawl it with: foerderdesk crawl --mirror http://HOST:PORT"""
    from crawler.mirror import BUNDLED_SNAPSHOT, make_server, open_snapshot

    root, cleanup = open_snapshot(snapshot or BUNDLED_SNAPSHOT)
    server = make_server(root, host, port)
    bound_host, bound_port = server.server_address[:2]
    click.echo(f"serving {snapshot or BUNDLED_SNAPSHOT} at http://{bound_host}:{bound_port}")
    click.echo(f"crawl it with: foerderdesk crawl --mirror http://{bound_host}:{bound_port}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        cleanup()
