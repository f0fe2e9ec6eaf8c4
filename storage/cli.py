"""The ``foerderdesk`` command.

The root group lives here; every package contributes its own subcommands through the
``foerderdesk.commands`` entry points in pyproject.toml, loaded only when needed. So
``storage`` never imports the packages above it, and ``foerderdesk --help`` stays fast.
"""

from __future__ import annotations

import logging
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path

import click

from storage.config import ConfigError, Settings, ensure_instance, load_settings
from storage.db import make_engine

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


# What a shell expects of a process whose reader went away: 128 + SIGPIPE.
EXIT_BROKEN_PIPE = 141


def _discard_stdout() -> None:
    """Point stdout at devnull, so the interpreter's last flush has nowhere to fail."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (a test's capture)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


class RootGroup(PluginGroup):
    """The root command: it also ends quietly when the reader of its output goes away."""

    def invoke(self, ctx: click.Context) -> object:
        # Click's standalone mode would catch a broken pipe itself and exit 1, so it is
        # handled here, inside it, as the Python docs recommend (note on SIGPIPE).
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _discard_stdout()
            raise SystemExit(EXIT_BROKEN_PIPE) from None


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


@click.group(cls=RootGroup, context_settings={"help_option_names": ["-h", "--help"]})
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


if __name__ == "__main__":  # `python -m storage.cli`: what subprocesses of ours run
    main()
