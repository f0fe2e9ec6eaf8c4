"""The pipeline's commands: ``foerderdesk crawl`` and ``foerderdesk profiles``.

They live with the scheduler because they chain steps of the pipeline (a crawl, then the
re-match it makes due; an import, then the re-match of the imported profiles) through the
same functions the scheduler's jobs call, instead of starting one another as commands.
"""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crawler.runs import runs_table
from crawler.sources import SourcesFileError, load_sources, sources_path
from scheduler.pipeline import CrawlRunner, default_rematcher, describe_match_run, rematch_due
from storage.cli import get_settings
from storage.db import make_engine, make_session_factory, session_scope, standalone_session
from storage.models import CrawlRun, MatchRun, Profile, utcnow
from storage.queries import latest_crawl_runs


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
    changed or withdrawn, every profile is re-matched afterwards.
    """
    settings = get_settings(ctx)
    engine = make_engine(settings, write_lock_first=True)  # the crawls write beside us
    factory = make_session_factory(engine)
    try:
        if show_status:
            with session_scope(factory) as session:
                click.echo(runs_table(latest_crawl_runs(session, limit)))
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
        runner = CrawlRunner(settings, factory, mirror=mirror)
        failed = []
        for entry in chosen:
            click.echo(f"== crawling {entry.slug} ({entry.name})", err=True)
            if runner(entry.slug) not in (0, 3):  # 3: partial, what was stored is kept
                failed.append(entry.slug)
        with session_scope(factory) as session:
            runs = session.scalars(
                select(CrawlRun)
                .where(CrawlRun.started_at >= started)
                .options(selectinload(CrawlRun.source))
                .order_by(CrawlRun.id)
            ).all()
            table = runs_table(list(runs))
        click.echo(table)
        if not no_match:
            report = rematch_due(factory, default_rematcher(settings))
            if report.run_id is not None:
                with session_scope(factory) as session:
                    click.echo(
                        describe_match_run(session.get_one(MatchRun, report.run_id)), err=True
                    )
        if failed:
            click.echo(f"failed: {', '.join(failed)}", err=True)
            ctx.exit(1)
    finally:
        engine.dispose()


@click.group()
def profiles() -> None:
    """City projects and partner organisations that calls are matched against."""


@profiles.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Validate only; change nothing.")
@click.option("--no-match", is_flag=True, help="Do not re-match the imported profiles.")
@click.pass_context
def profiles_import(ctx: click.Context, file: Path, dry_run: bool, no_match: bool) -> None:
    """Import profiles from a YAML or CSV FILE (all rows, or none if any row is invalid).

    The imported profiles are re-matched afterwards.
    """
    from storage.profiles import ProfileFileError, import_profiles, validate_file

    settings = get_settings(ctx)
    try:
        if dry_run:
            rows = validate_file(file)
            click.echo(f"{file}: {len(rows)} profile(s) valid; nothing imported (--dry-run)")
            return
        with standalone_session(settings) as session:
            result = import_profiles(session, file)
    except ProfileFileError as exc:
        for line in str(exc).splitlines():
            click.echo(line, err=True)
        ctx.exit(1)
    click.echo(f"{file}: {len(result.created)} profile(s) created, {len(result.updated)} updated")
    slugs = result.created + result.updated
    if not slugs or no_match:
        return
    with standalone_session(settings) as session:
        ids = list(session.scalars(select(Profile.id).where(Profile.slug.in_(slugs))))
        run = default_rematcher(settings)(session, sorted(ids), "profile_edit")
        line = describe_match_run(run)
    click.echo(line, err=run.outcome != "succeeded")
    if run.outcome != "succeeded":
        ctx.exit(1)


@profiles.command("list")
@click.pass_context
def profiles_list(ctx: click.Context) -> None:
    """List the stored profiles."""
    with standalone_session(get_settings(ctx)) as session:
        rows = session.scalars(select(Profile).order_by(Profile.kind, Profile.slug)).all()
        for p in rows:
            state = "" if p.active else "  (inactive)"
            click.echo(f"{p.kind:8} {p.slug:40} {p.applicant_type:13} {p.name}{state}")
        click.echo(f"{len(rows)} profile(s)")
