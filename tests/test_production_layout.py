"""The production layout of README "Running it for a city", started for real on this machine.

PostgreSQL, ``foerderdesk db upgrade`` first, gunicorn with ``deploy/gunicorn.conf.py`` and
two workers, the one ``foerderdesk scheduler`` and the bundled snapshot as the crawl mirror,
each a process of its own with the same environment, as the systemd units start them. An
admin presses "crawl now" through gunicorn, the scheduler crawls and re-matches, and the
public search on both workers finds the crawled call. It runs against PostgreSQL only: the
layout is several processes on one database, which is what production runs. Two quick tests
beside it hold the env file example to the settings and check webui/wsgi.py's proxy handling.
"""

from __future__ import annotations

import http.client
import importlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from http.cookies import SimpleCookie
from pathlib import Path
from typing import IO, TypeVar
from urllib.parse import urlencode

import pytest
import yaml
from sqlalchemy import Engine, select

from storage.config import PREFIX, Settings
from storage.db import standalone_session
from storage.models import CrawlRun, FundingCall, Match, MatchRun, Source, WorkItem
from tests.conftest import PG_URL

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SOURCE = "aktion_mensch"  # one page in the snapshot, so its crawl is quick
CALL_TITLE = "Inklusionsprojekte"  # one of that page's calls
PUBLIC_HOST = "foerderdesk.example.org"  # the address the proxy serves, as in production
ADMIN = "admin@example.org"
PASSWORD = "correct horse battery staple"
PROXY_COUNT = "FOERDERDESK_PROXY_COUNT"  # read by webui/wsgi.py, which builds an app on import
WAIT = 120.0  # seconds from "crawl now" until the crawl, re-match and search came through
STOP = 60.0  # seconds for a process to stop after SIGTERM
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Strict-Transport-Security": "max-age=",
}
T = TypeVar("T")


def foerderdesk() -> list[str]:
    """The ``foerderdesk`` command of this virtualenv, as the systemd units run it."""
    script = BIN / "foerderdesk"
    return [str(script)] if script.exists() else [sys.executable, "-m", "storage.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, check: Callable[[], T | None], timeout: float, every: float = 0.5) -> T:
    """``check()``'s first truthy answer within ``timeout`` seconds, or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


@dataclass
class Process:
    """A started process whose output goes to a file (a pipe could fill and block it)."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = STOP) -> int | None:
        """SIGTERM, then the exit code within ``timeout`` (None if it had to be killed)."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(10)
            return None


@dataclass
class Layout:
    """The processes of one layout, and the environment they share."""

    env: dict[str, str]
    folder: Path
    processes: list[Process] = field(default_factory=list)

    def run(self, *args: str, stdin: str = "") -> str:
        """Run one command to its end (a step of the install), failing with its output."""
        result = subprocess.run(
            [*foerderdesk(), *args], env=self.env, input=stdin, capture_output=True,
            text=True, timeout=300, check=False, cwd=self.folder,
        )  # fmt: skip
        assert result.returncode == 0, f"foerderdesk {' '.join(args)}:\n{result.stderr[-3000:]}"
        return result.stdout

    def start(self, name: str, command: list[str]) -> Process:
        log = self.folder / f"{name}.log"
        out: IO[bytes] = log.open("wb")
        popen = subprocess.Popen(
            command, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
            start_new_session=True,  # a Ctrl+C of pytest reaches the test's finally, not them
        )  # fmt: skip
        out.close()
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def report(self) -> str:
        return "\n".join(
            f"----- {p.name} (exit {p.popen.poll()}), last lines of {p.log.name}:\n{p.tail()}"
            for p in self.processes
        )


class Browser:
    """A reader behind the reverse proxy: the headers nginx adds, cookies, no redirects.

    The cookies are kept by hand because the public address is https (secure cookies) while
    the test talks to gunicorn on plain http, as the proxy does.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], str]:
        headers = {
            "Host": PUBLIC_HOST,
            "X-Forwarded-For": "203.0.113.7",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": PUBLIC_HOST,
            "Accept-Language": "en",
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            # Flask-WTF checks the referrer of every https form (a browser sends it).
            headers["Referer"] = f"https://{PUBLIC_HOST}{path}"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", errors="replace")
            for value in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(value).items():
                    self.cookies[name] = morsel.value
            return response.status, dict(response.headers.items()), text
        finally:
            conn.close()

    def get(self, path: str) -> tuple[int, dict[str, str], str]:
        return self.request("GET", path)

    def post(self, path: str, form: dict[str, str]) -> tuple[int, dict[str, str], str]:
        return self.request("POST", path, form)


def csrf_token(page: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert found, "the form carries no CSRF token"
    return found.group(1)


def one_source_file(folder: Path) -> Path:
    """A sources file with just the quick source, copied from the shipped one."""
    shipped = yaml.safe_load((ROOT / "crawler" / "sources.yaml").read_text(encoding="utf-8"))
    (entry,) = [s for s in shipped["sources"] if s["slug"] == SOURCE]
    assert entry["enabled"]
    path = folder / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": [entry]}, allow_unicode=True), encoding="utf-8")
    return path


def layout_env(database_url: str, folder: Path, mirror_port: int) -> dict[str, str]:
    """The environment file of deploy/, filled in for this test: nothing from the shell's own
    FOERDERDESK_* variables leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOERDERDESK_")}
    env.update(
        FOERDERDESK_DATABASE_URL=database_url,
        FOERDERDESK_INSTANCE_PATH=str(folder / "instance"),
        FOERDERDESK_SECRET_KEY="layout-test-secret-key-not-for-production",
        FOERDERDESK_BASE_URL=f"https://{PUBLIC_HOST}",
        FOERDERDESK_SOURCES_FILE=str(one_source_file(folder)),
        FOERDERDESK_CRAWL_MIRROR=f"http://127.0.0.1:{mirror_port}",
        FOERDERDESK_SCHEDULER_POLL_SECONDS="1",
        # Two workers, one test: the per-process store is enough here (production: redis).
        FOERDERDESK_RATELIMIT_STORAGE_URL="memory://",
        FOERDERDESK_PROXY_COUNT="1",
        FOERDERDESK_SMTP_HOST="127.0.0.1",
        FOERDERDESK_SMTP_PORT="9",  # nothing is mailed here; a stray message fails to connect
        FOERDERDESK_LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",  # the logs reach their files as they are written
    )
    return env


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def layout(database_url: str, tmp_path: Path) -> Iterator[Layout]:
    env = layout_env(database_url, tmp_path, free_port())
    started = Layout(env=env, folder=tmp_path)
    try:
        yield started
    finally:
        for process in started.processes:
            if process.alive():
                process.stop(timeout=15)


def search(browser: Browser, words: str) -> tuple[int, dict[str, str], str]:
    return browser.get("/?" + urlencode({"q": words}))


def search_pids(gunicorn: Process, offset: int = 0) -> list[str]:
    """The worker (by pid, from the access log) that answered each search logged after
    ``offset`` bytes of the log."""
    log = gunicorn.log.read_bytes()[offset:].decode(errors="replace")
    return re.findall(r"^<(\d+)> .*\"GET /\?q=", log, re.MULTILINE)


def test_the_env_example_names_every_setting() -> None:
    """A city copies deploy/foerderdesk.env.example: a setting missing there is one it never
    hears of. Every line is KEY=value, so systemd and ``sh`` read it alike."""
    text = (ROOT / "deploy" / "foerderdesk.env.example").read_text(encoding="utf-8")
    assigned = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*=\S*", line), line
            name, _, value = line.partition("=")
            assigned[name] = value
    settings = {PREFIX + f.name.upper() for f in fields(Settings)}
    named = set(assigned) | set(re.findall(r"^#(FOERDERDESK_[A-Z_]+)=", text, re.MULTILINE))
    assert settings <= named, sorted(settings - named)
    assert {n for n in named if n.startswith(PREFIX)} <= settings | {PROXY_COUNT}
    assert assigned["FOERDERDESK_CRAWL_MIRROR"] == ""  # production crawls the real sources
    assert assigned["FOERDERDESK_SECRET_KEY"] == ""  # a placeholder, never a key
    assert assigned["FOERDERDESK_RATELIMIT_STORAGE_URL"] != "memory://"  # several workers


def test_wsgi_trusts_forwarded_headers_only_when_told(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str, engine: Engine
) -> None:
    """gunicorn's entry point: with FOERDERDESK_PROXY_COUNT=1 links name the address the
    proxy reports; without it a client's own X-Forwarded-* headers change nothing."""
    for name in [k for k in os.environ if k.startswith(PREFIX)]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FOERDERDESK_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("FOERDERDESK_DATABASE_URL", database_url)
    monkeypatch.setenv("FOERDERDESK_SECRET_KEY", "test-secret-key-not-for-production")
    wsgi = importlib.import_module("webui.wsgi")  # builds its app from this environment
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": PUBLIC_HOST,
                 "X-Forwarded-For": "203.0.113.7"}  # fmt: skip
    for environ, expected in (({PROXY_COUNT: "1"}, f"https://{PUBLIC_HOST}/"),
                              ({}, "http://localhost/")):  # fmt: skip
        app = wsgi.build_app(environ)
        try:
            feed = app.test_client().get("/calls.atom", headers=forwarded).get_data(as_text=True)
        finally:
            app.extensions["foerderdesk.engine"].dispose()
        assert expected in feed
    wsgi.app.extensions["foerderdesk.engine"].dispose()
    for wrong in ("-1", "one"):
        with pytest.raises(ValueError, match=PROXY_COUNT):
            wsgi.proxy_count({PROXY_COUNT: wrong})


@pytest.mark.slow
@pytest.mark.skipif(
    not PG_URL,
    reason="the production layout runs on PostgreSQL: set FOERDERDESK_TEST_DATABASE_URL",
)
def test_crawl_rematch_and_search_through_the_production_layout(
    layout: Layout, database_url: str
) -> None:
    began = time.monotonic()
    try:
        _run_the_layout(layout, database_url)
    except BaseException:
        print(layout.report(), file=sys.stderr)
        raise
    print(f"production layout: {time.monotonic() - began:.1f} s")


def _run_the_layout(layout: Layout, database_url: str) -> None:
    env = layout.env
    mirror_port = int(env["FOERDERDESK_CRAWL_MIRROR"].rsplit(":", 1)[1])
    web_port = free_port()

    # The install and upgrade steps of the README, in their order: migrate first.
    layout.run("db", "upgrade")
    layout.run("users", "create", ADMIN, "--role", "admin", "--password-stdin",
               stdin=PASSWORD + "\n")  # fmt: skip
    layout.run("profiles", "import", str(ROOT / "storage/examples/hannover_profiles.yaml"),
               "--no-match")  # fmt: skip

    mirror = layout.start("mirror", [*foerderdesk(), "mirror", "serve", "--port", str(mirror_port)])
    gunicorn = layout.start(
        "gunicorn",
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy/gunicorn.conf.py"),
         "--workers", "2", "--bind", f"127.0.0.1:{web_port}", "webui.wsgi:app"],
    )  # fmt: skip
    scheduler = layout.start("scheduler", [*foerderdesk(), "scheduler"])
    wait_for("the mirror", lambda: answers(mirror_port) or not mirror.alive(), 30)
    wait_for("gunicorn", lambda: answers(web_port) or not gunicorn.alive(), 60)
    wait_for("the scheduler to hold the lock",
             lambda: "scheduler: active" in scheduler.log.read_text() or not scheduler.alive(),
             60)  # fmt: skip
    for process in (mirror, gunicorn, scheduler):
        assert process.alive(), f"{process.name} exited early"
    boots = wait_for(
        "both gunicorn workers",
        lambda: len(re.findall(r"Booting worker", gunicorn.log.read_text())) >= 2,
        30,
    )
    assert boots

    reader = Browser(web_port)
    # Before the crawl both workers answer from an index without the call.
    with ThreadPoolExecutor(max_workers=4) as pool:
        before = list(pool.map(lambda _: search(Browser(web_port), CALL_TITLE), range(8)))
    for status, headers, page in before:
        assert status == 200
        assert not re.search(r'href="/calls/\d+"', page)  # no call is stored yet
        for name, value in SECURITY_HEADERS.items():
            assert value in headers.get(name, ""), (name, headers)  # they survive gunicorn

    # An admin signs in and presses "crawl now" on the sources page, through gunicorn.
    admin = Browser(web_port)
    status, _, page = admin.get("/login")
    assert status == 200
    status, headers, _ = admin.post(
        "/login", {"email": ADMIN, "password": PASSWORD, "csrf_token": csrf_token(page)}
    )
    assert status == 302, "the sign-in failed"
    status, _, page = admin.get("/sources/")
    assert status == 200 and f'action="/sources/{SOURCE}/crawl"' in page, page[-2000:]
    status, headers, _ = admin.post(f"/sources/{SOURCE}/crawl", {"csrf_token": csrf_token(page)})
    assert status == 302 and headers["Location"].endswith("/sources/"), (status, headers)
    with standalone_session(database_url) as session:
        item = session.scalars(select(WorkItem).where(WorkItem.kind == "crawl")).one()
        assert (item.source_slug, item.reason) == (SOURCE, "crawl now")

    # The scheduler crawls the mirror, then re-matches because calls changed.
    deadline = time.monotonic() + WAIT

    def left() -> float:
        return max(0.0, deadline - time.monotonic())

    def crawled() -> CrawlRun | None:
        with standalone_session(database_url) as session:
            run = session.scalars(
                select(CrawlRun).join(Source).where(Source.slug == SOURCE)
            ).first()
            if run is not None and run.outcome not in ("running", "succeeded"):
                pytest.fail(f"the crawl ended {run.outcome}: {run.reason}")
            return run if run is not None and run.outcome == "succeeded" else None

    run = wait_for("a successful crawl run", crawled, left())
    assert run.calls_new >= 3

    def rematched() -> tuple[MatchRun, int] | None:
        with standalone_session(database_url) as session:
            match_run = session.scalars(
                select(MatchRun).where(MatchRun.trigger == "crawl", MatchRun.outcome != "running")
            ).first()
            if match_run is None:
                return None
            assert match_run.outcome == "succeeded", match_run.parameters
            session.expunge(match_run)
            return match_run, len(session.scalars(select(Match.id)).all())

    match_run, matches = wait_for("the re-match after the crawl", rematched, left())
    assert match_run.matches_count > 0 and matches > 0
    with standalone_session(database_url) as session:
        call_id = session.scalars(
            select(FundingCall.id).where(FundingCall.source == SOURCE,
                                         FundingCall.title == CALL_TITLE)
        ).one()  # fmt: skip
    link = f'href="/calls/{call_id}"'

    # The public search finds it on every worker, without a restart: ask in parallel, so both
    # workers answer, until a whole batch has the call and both workers answered in it.
    def both_workers_find_the_call() -> bool:
        offset = gunicorn.log.stat().st_size
        with ThreadPoolExecutor(max_workers=6) as pool:
            batch = list(pool.map(lambda _: search(Browser(web_port), CALL_TITLE), range(12)))
        if not all(status == 200 and link in page for status, _, page in batch):
            return False
        wait_for(
            "the batch in the access log", lambda: len(search_pids(gunicorn, offset)) >= 12, 10
        )
        return len(set(search_pids(gunicorn, offset))) == 2

    wait_for("the call in the search of both workers", both_workers_find_the_call, left(), every=1)

    # Behind the proxy: absolute links name the public https address (ProxyFix), and the
    # security headers come through on every kind of answer.
    status, headers, feed = reader.get("/calls.atom?" + urlencode({"q": CALL_TITLE}))
    assert status == 200 and f"https://{PUBLIC_HOST}/calls/{call_id}" in feed
    assert "nosniff" in headers.get("X-Content-Type-Options", "")
    status, headers, _ = reader.get("/no-such-page")
    assert status == 404
    for name, value in SECURITY_HEADERS.items():
        assert value in headers.get(name, ""), (name, headers)

    # SIGTERM stops both cleanly, as systemctl stop does.
    assert scheduler.stop() == 0, "the scheduler did not exit 0 after SIGTERM"
    assert "scheduler: stopped" in scheduler.log.read_text()
    assert gunicorn.stop() == 0, "gunicorn did not exit 0 after SIGTERM"
    mirror.stop()
