"""The crawler's ``foerderdesk`` subcommands: ``calls export`` and ``mirror serve``, and the
environment a crawl process gets (``foerderdesk crawl`` itself is the pipeline's, in the
scheduler package: it re-matches after the crawl)."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from storage.cli import get_settings
from storage.config import Settings
from storage.db import make_engine, make_session_factory, session_scope
from storage.deadlines import call_status
from storage.models import CALL_STATUSES, FundingCall, utcnow
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
            "FOERDERDESK_CRAWL_MIRROR": settings.crawl_mirror,
        }
    )
    if settings.sources_file:
        env["FOERDERDESK_SOURCES_FILE"] = settings.sources_file
    return env


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
