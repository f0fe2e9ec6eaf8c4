"""The ``foerderdesk`` command.

The root group lives here; every package contributes its own subcommands through the
``foerderdesk.commands`` entry points in pyproject.toml, loaded only when needed. So
``storage`` never imports the packages above it, and ``foerderdesk --help`` stays fast.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import click

from storage.config import ConfigError, Settings, ensure_instance, load_settings
from storage.db import make_engine, standalone_session

ENTRY_POINT_GROUP = "foerderdesk.commands"


class PluginGroup(click.Group):
    """A click group whose commands come from entry points, imported on first use."""

    def _entry_points(self) -> dict[str, object]:
        return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._entry_points()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        ep = self._entry_points().get(cmd_name)
        return ep.load() if ep is not None else None  # type: ignore[attr-defined]


def foerderdesk_command(settings: Settings, *args: str) -> list[str]:
    """The command line that runs ``foerderdesk ARGS`` in a subprocess with the same instance
    and database: how one command hands work to another package without importing it."""
    return [
        sys.executable, "-m", "storage.cli",
        "--instance", str(settings.instance_path),
        "--database-url", settings.sqlalchemy_url,
        *args,
    ]  # fmt: skip


def get_settings(ctx: click.Context) -> Settings:
    """The settings of this invocation (built once by the root command)."""
    return ctx.find_root().obj


@click.group(cls=PluginGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--instance",
    type=click.Path(file_okay=False, path_type=Path),
    help="Instance folder (default: ./instance, or FOERDERDESK_INSTANCE_PATH).",
)
@click.option("--database-url", help="Database URL (default: SQLite in the instance folder).")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.pass_context
def main(
    ctx: click.Context, instance: Path | None, database_url: str | None, verbose: bool
) -> None:
    """foerderdesk: the funding service desk (Fördermittel-Servicestelle).

    Configuration comes from FOERDERDESK_* environment variables; see the README.
    """
    try:
        settings = load_settings(instance_path=instance, database_url=database_url)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    logging.basicConfig(
        level=logging.DEBUG if verbose else getattr(logging, settings.log_level.upper(), 20),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(logging.DEBUG if verbose else logging.WARNING)
    ctx.obj = ensure_instance(settings)


@click.group()
def db() -> None:
    """Database schema: create and upgrade it."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Create or upgrade the database schema (Alembic migrations)."""
    from storage.migrate import current_revision, upgrade

    settings = get_settings(ctx)
    upgrade(settings.sqlalchemy_url, revision)
    engine = make_engine(settings)
    click.echo(f"database at revision {current_revision(engine)}")
    engine.dispose()


@db.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """Show the schema revision the database is at."""
    from storage.migrate import current_revision

    engine = make_engine(get_settings(ctx))
    click.echo(current_revision(engine) or "empty database (run: foerderdesk db upgrade)")
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

    The imported profiles are re-matched afterwards (`foerderdesk match --profile …`).
    """
    from storage.profiles import ProfileFileError, import_profiles, validate_file

    try:
        if dry_run:
            rows = validate_file(file)
            click.echo(f"{file}: {len(rows)} profile(s) valid; nothing imported (--dry-run)")
            return
        with standalone_session(get_settings(ctx)) as session:
            result = import_profiles(session, file)
    except ProfileFileError as exc:
        for line in str(exc).splitlines():
            click.echo(line, err=True)
        ctx.exit(1)
    click.echo(f"{file}: {len(result.created)} profile(s) created, {len(result.updated)} updated")
    slugs = result.created + result.updated
    if slugs and not no_match:
        # The matcher sits above storage: hand the work over by command, not by import.
        args = [arg for slug in slugs for arg in ("--profile", slug)]
        command = foerderdesk_command(
            get_settings(ctx), "match", "--trigger", "profile_edit", *args
        )
        if subprocess.run(command, check=False).returncode != 0:
            click.echo("re-matching failed; run `foerderdesk match` again", err=True)


@profiles.command("list")
@click.pass_context
def profiles_list(ctx: click.Context) -> None:
    """List the stored profiles."""
    from sqlalchemy import select

    from storage.models import Profile

    with standalone_session(get_settings(ctx)) as session:
        rows = session.scalars(select(Profile).order_by(Profile.kind, Profile.slug)).all()
        for p in rows:
            state = "" if p.active else "  (inactive)"
            click.echo(f"{p.kind:8} {p.slug:40} {p.applicant_type:13} {p.name}{state}")
        click.echo(f"{len(rows)} profile(s)")


if __name__ == "__main__":  # `python -m storage.cli`: what subprocesses of ours run
    main()
