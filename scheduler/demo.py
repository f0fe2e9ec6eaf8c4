"""``foerderdesk demo``: a working service desk on a laptop, offline, in one command.

It does what an operator would do by hand, in order: upgrade the database, import the
Hannover example profiles, crawl the bundled snapshot of the real sources through the mirror
mechanism with the real spiders, re-match, and run the web app beside the scheduler, as in
production (the scheduler's crawls go to the mirror, so "crawl now" works offline). Crawls,
the web app and the scheduler run as processes of their own.

The terminal gets one line per step and one per source crawled; what the subprocesses say
(Scrapy's log, the matcher's, the web server's, the scheduler's) goes to ``instance/logs/demo.log``.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import click

from crawler.sources import SourcesFileError, load_sources, sources_path
from scheduler.pipeline import CrawlRunner, default_rematcher, describe_match_run, rematch_due
from storage.cli import foerderdesk_command, get_settings
from storage.config import Settings
from storage.db import make_engine, make_session_factory, session_scope, standalone_session
from storage.migrate import upgrade
from storage.models import CrawlRun, MatchRun, utcnow
from storage.profiles import import_profiles
from storage.queries import crawl_runs_since

EXAMPLE_PROFILES = Path(__file__).resolve().parents[1] / "storage" / "examples"
LOG_NAME = "demo.log"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_port_free(host: str, port: int) -> None:
    """Raise a one-line error unless ``host:port`` can be bound right now.

    Binds the way the web server (waitress) will, with SO_REUSEADDR, so a connection of an
    earlier run still in TIME_WAIT does not count as taken, while a listening server does.
    """
    where = f"{host}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise click.ClickException(f"cannot serve on {where}: {exc.strerror}") from None
    with socket.socket(family, kind, proto) as sock:
        if os.name == "posix":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise click.ClickException(
                    f"port {port} is already in use on {host} (another demo or server?); "
                    f"stop it or pick another port: make demo PORT={port + 1}"
                ) from None
            raise click.ClickException(f"cannot serve on {where}: {exc.strerror}") from None


def wait_for_port(port: int, timeout: float = 20.0, host: str = "127.0.0.1") -> None:
    """Wait until something accepts connections on ``port``; raise if nothing does in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), 0.5):
            return
        time.sleep(0.1)
    raise click.ClickException(f"nothing answered on {host}:{port} within {timeout:.0f} s")


@contextlib.contextmanager
def snapshot_mirror(settings: Settings, log: IO[str] | None = None) -> Iterator[str]:
    """Serve the crawler's bundled snapshot as a mirror on a free port; yield its base URL."""
    port = free_port()
    process = subprocess.Popen(
        foerderdesk_command(settings, "mirror", "serve", "--port", str(port)),
        stdout=log, stderr=subprocess.STDOUT if log else None,
    )  # fmt: skip
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


# --- what the terminal shows -----------------------------------------------------------------
def _seconds(value: float | None) -> str:
    value = value or 0.0
    return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"


def crawl_summary(run: CrawlRun) -> str:
    """One line for one crawl run, e.g. ``eu_funding_tenders: 612 new, 0 updated, ...``."""
    name = f"{run.source.slug}:"
    took = _seconds(run.duration_seconds)
    if run.outcome == "failed":
        return f"    {name:20} FAILED — {run.reason or 'no reason recorded'} ({took})"
    if run.outcome == "running":
        return f"    {name:20} did not finish (the crawl process stopped; see the log)"
    counts = (
        f"{run.calls_new} new, {run.calls_updated} updated, "
        f"{sum((run.dropped or {}).values())} dropped"
    )
    if run.calls_withdrawn:
        counts += f", {run.calls_withdrawn} withdrawn"
    line = f"    {name:20} {counts} ({took})"
    if run.outcome == "partial":
        line += f" — partial: {run.reason or 'some pages failed'}; nothing withdrawn"
    return line


def match_summary(run: MatchRun | None) -> str:
    """One line for the re-match the demo ran."""
    if run is None:
        return "    the matcher did not run (see the log)"
    return f"    {describe_match_run(run)}"


def _shown_path(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def _log_step(log: IO[str], title: str) -> None:
    log.write(f"\n===== {utcnow():%Y-%m-%d %H:%M:%S} UTC  {title}\n")
    log.flush()


# --- the steps -------------------------------------------------------------------------------
def crawl_snapshot(settings: Settings, log: IO[str], mirror: str) -> bool:
    """Crawl every enabled source from the mirror, one terminal line per source as it
    finishes; True if every source succeeded."""
    _log_step(log, "crawl of the bundled snapshot")
    try:
        entries = [e for e in load_sources(sources_path(settings)) if e.enabled]
    except SourcesFileError as exc:
        raise click.ClickException(str(exc)) from None
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    runner = CrawlRunner(settings, factory, mirror=mirror, output=log)
    succeeded = True
    try:
        for entry in entries:
            started = utcnow()
            succeeded &= runner(entry.slug) == 0
            with session_scope(factory) as session:
                runs = crawl_runs_since(session, entry.slug, started)
                click.echo(crawl_summary(runs[0]) if runs else f"    {entry.slug}: did not start")
    finally:
        engine.dispose()
    if not succeeded:
        click.echo("    some sources failed (see the log); the calls that were stored are kept")
    return succeeded


def rematch(settings: Settings, log: IO[str]) -> None:
    """Re-rank every profile if calls changed (the matcher logs to the log), then print one
    summary line."""
    _log_step(log, "match")
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    try:
        report = rematch_due(factory, default_rematcher(settings))
        if report.run_id is None:
            click.echo("    up to date: no call changed since the last re-match")
            return
        with session_scope(factory) as session:
            run = session.get_one(MatchRun, report.run_id)
            log.write(f"match run {run.id}: {run.outcome}\n")
            click.echo(match_summary(run))
    finally:
        engine.dispose()


def prepare(
    settings: Settings, log: IO[str], mirror: str, *, crawl: bool = True, steps: int = 4
) -> str:
    """Database, profiles, calls from the snapshot, matches: everything but serving."""
    click.echo(f"1/{steps} database: upgrading to the newest schema")
    upgrade(settings.sqlalchemy_url)
    click.echo(f"2/{steps} profiles: importing the Hannover examples")
    with standalone_session(settings) as session:
        for path in sorted(EXAMPLE_PROFILES.glob("*.yaml")):
            result = import_profiles(session, path)
            click.echo(f"    {path.name}: {len(result.created)} new, {len(result.updated)} updated")
    if crawl:
        click.echo(f"3/{steps} calls: crawling the bundled snapshot through a local mirror")
        crawl_snapshot(settings, log, mirror)
    else:
        click.echo(f"3/{steps} calls: not crawled (--no-crawl); the stored calls are kept")
    click.echo(f"4/{steps} matches: ranking the calls for every profile")
    rematch(settings, log)
    return demo_login(settings)


def serve(settings: Settings, log: IO[str], host: str, port: int) -> subprocess.Popen[bytes]:
    """Start the web app (its output to the log) and return once it accepts connections."""
    _log_step(log, f"serve on {host}:{port}")
    process = subprocess.Popen(
        foerderdesk_command(settings, "serve", "--host", host, "--port", str(port)),
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    probe = host
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).is_unspecified:  # serving on every interface
            probe = "127.0.0.1"
    try:
        wait_for_port(port, timeout=30, host=probe)
    except click.ClickException:
        process.terminate()
        process.wait(timeout=10)
        raise
    if process.poll() is not None:
        raise click.ClickException(f"the web app stopped at once (exit {process.returncode})")
    return process


def scheduler_in_background(
    settings: Settings, log: IO[str], mirror: str
) -> subprocess.Popen[bytes]:
    """The scheduler, in a process of its own as in production, crawling the mirror (so
    "crawl now" works offline) and looking for queued work every few seconds."""
    _log_step(log, "scheduler")
    env = {
        **os.environ,
        "FOERDERDESK_CRAWL_MIRROR": mirror,
        "FOERDERDESK_SCHEDULER_POLL_SECONDS": "3",
    }
    return subprocess.Popen(
        foerderdesk_command(settings, "scheduler"), env=env, stdout=log, stderr=subprocess.STDOUT
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-crawl", is_flag=True, help="Skip the crawl (keep the stored calls).")
@click.option("--no-serve", is_flag=True, help="Prepare the data and stop.")
@click.pass_context
def demo(ctx: click.Context, host: str, port: int, no_crawl: bool, no_serve: bool) -> None:
    """Set up the offline demo (database, profiles, calls, matches) and serve it.

    Refuses at once if HOST:PORT is taken. Subprocess output goes to instance/logs/demo.log.
    """
    if not no_serve:
        ensure_port_free(host, port)  # before any work: a taken port is the common mistake
    settings = get_settings(ctx)
    log_path = settings.instance_path / "logs" / LOG_NAME
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w", encoding="utf-8") as log, snapshot_mirror(settings, log) as mirror:
        # The matcher runs in this process: its log goes to the file too, not the terminal.
        logging.basicConfig(stream=log, level=logging.INFO, force=True)
        click.echo(f"details (Scrapy, matcher, web server) are logged to {_shown_path(log_path)}")
        try:
            steps = 4 if no_serve else 5
            password = prepare(settings, log, mirror, crawl=not no_crawl, steps=steps)
        except click.ClickException as exc:
            raise click.ClickException(f"{exc.message} (see {_shown_path(log_path)})") from None
        login = f"(desk login: {DEMO_USER} / {password})"
        if no_serve:
            command = "foerderdesk"
            if settings.instance_path.resolve() != Path("instance").resolve():
                command = f"foerderdesk --instance {settings.instance_path}"
            click.echo(
                f"ready: start the web app with `{command} serve` and the scheduler with "
                f"`{command} scheduler`  {login}"
            )
            return
        click.echo(f"5/5 web app and scheduler: starting on {host}:{port} (Ctrl+C stops them)")
        try:
            process = serve(settings, log, host, port)
        except click.ClickException as exc:
            raise click.ClickException(f"{exc.message} (see {_shown_path(log_path)})") from None
        scheduler = scheduler_in_background(settings, log, mirror)
        click.echo(f"ready: open http://{host}:{port}/  {login}")
        signal.signal(signal.SIGTERM, _interrupt)  # a `kill` stops the web app with us
        try:
            code = process.wait()
        except KeyboardInterrupt:
            for child in (process, scheduler):
                child.terminate()
            for child in (process, scheduler):
                child.wait(timeout=60)  # the scheduler stops a running crawl and records it
            click.echo("stopped")
            return
        finally:
            if scheduler.poll() is None:
                scheduler.terminate()
                scheduler.wait(timeout=60)
    if code != 0:
        raise click.ClickException(f"the web app stopped (exit {code}); see {log_path}")
