"""``foerderdesk demo``: a working service desk on a laptop, offline, in one command.

It does what an operator would do by hand, in order: upgrade the database, import the
Hannover example profiles, crawl the bundled snapshot of the real sources through the mirror
mechanism with the real spiders, re-match, and serve the web app. Crawls and the web server
run as subprocesses, exactly as the scheduler runs them in production.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import click

from storage.cli import foerderdesk_command, get_settings
from storage.config import Settings
from storage.db import standalone_session
from storage.migrate import upgrade
from storage.profiles import import_profiles

EXAMPLE_PROFILES = Path(__file__).resolve().parents[1] / "storage" / "examples"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    """Wait until something accepts connections on ``port``; raise if nothing does in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise click.ClickException(f"nothing answered on 127.0.0.1:{port} within {timeout:.0f} s")


@contextlib.contextmanager
def snapshot_mirror(settings: Settings) -> Iterator[str]:
    """Serve the crawler's bundled snapshot as a mirror on a free port; yield its base URL."""
    port = free_port()
    process = subprocess.Popen(
        foerderdesk_command(settings, "mirror", "serve", "--port", str(port))
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


DEMO_USER = "desk@example.org"


def demo_login(settings: Settings) -> str:
    """Make sure the demo's service-desk login exists; return its password.

    The password is generated once per instance and kept in ``instance/demo_login`` (0600),
    so no password is written in the repo and a second ``make demo`` prints the same one.
    """
    path = settings.instance_path / "demo_login"
    if path.exists():
        password = path.read_text().strip()
    else:
        password = secrets.token_urlsafe(12)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(password)
    create = subprocess.run(
        foerderdesk_command(settings, "users", "create", DEMO_USER, "--role", "desk",
                            "--name", "Servicestelle (Demo)", "--password-stdin"),
        input=password + "\n", text=True, capture_output=True, check=False,
    )  # fmt: skip
    if create.returncode != 0:  # it exists already: make its password the one we print
        subprocess.run(
            foerderdesk_command(settings, "users", "password", DEMO_USER, "--password-stdin"),
            input=password + "\n", text=True, capture_output=True, check=True,
        )  # fmt: skip
    return password


def prepare(settings: Settings, *, crawl: bool = True) -> str:
    """Database, profiles, calls from the snapshot, matches: everything but serving."""
    click.echo("1/4 database: upgrading to the newest schema")
    upgrade(settings.sqlalchemy_url)
    click.echo("2/4 profiles: importing the Hannover examples")
    with standalone_session(settings) as session:
        for path in sorted(EXAMPLE_PROFILES.glob("*.yaml")):
            result = import_profiles(session, path)
            click.echo(f"    {path.name}: {len(result.created)} new, {len(result.updated)} updated")
    if crawl:
        click.echo("3/4 calls: crawling the bundled snapshot through a local mirror")
        with snapshot_mirror(settings) as mirror:
            status = subprocess.call(
                foerderdesk_command(settings, "crawl", "--mirror", mirror, "--no-match")
            )
        if status != 0:
            click.echo("    some sources failed; the calls that were stored are kept", err=True)
    click.echo("4/4 matches: ranking the calls for every profile")
    subprocess.call(foerderdesk_command(settings, "match"))
    return demo_login(settings)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-crawl", is_flag=True, help="Skip the crawl (keep the stored calls).")
@click.option("--no-serve", is_flag=True, help="Prepare the data and stop.")
@click.pass_context
def demo(ctx: click.Context, host: str, port: int, no_crawl: bool, no_serve: bool) -> None:
    """Set up the offline demo (database, profiles, calls, matches) and serve it."""
    settings = get_settings(ctx)
    password = prepare(settings, crawl=not no_crawl)
    click.echo(f"service-desk login: {DEMO_USER} / {password}")
    if no_serve:
        return
    click.echo(f"ready: open http://{host}:{port}/")
    raise SystemExit(
        subprocess.call(foerderdesk_command(settings, "serve", "--host", host, "--port", str(port)))
    )
