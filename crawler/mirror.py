"""A mirror server for recorded snapshots: the other half of ``--mirror URL``.

The crawler sends ``https://HOST/PATH?QUERY`` to ``URL/HOST/PATH?QUERY`` (see
:mod:`crawler.middlewares`); this server answers such requests from a snapshot directory
(or a ``.tar.gz`` of one) laid out as ``crawler/snapshot/README.md`` describes:

- ``eu_ft_sedia/search_page_N.json``: the SEDIA search API, page N by ``pageNumber``
  (POST with a multipart body only, as the real API: GET answers 405, a body without a
  ``query`` part answers 500); ``eu_ft_sedia/facet_frameworkProgramme.json``: the facet;
  ``eu_ft_sedia/topic_details/<identifier>.json``: TopicDetails (``/`` in identifiers as
  ``_``, looked up case-insensitively);
- ``static/HOST/PATH``: any other page, byte for byte (``PATH/`` → ``PATH/index.html``; a
  query string picks ``static/HOST/PATH@QUERY`` if that file exists, else the plain file);
- robots.txt: ``static/HOST/robots.txt`` if present, otherwise "allow everything".

Static files carry an ``ETag`` and ``Last-Modified`` and answer a matching conditional
request with 304, as the Förderdatenbank export does; a file that is a zip is served as
``application/zip`` whatever its name.

For tests, an optional ``_faults.json`` in the snapshot root injects failures:
``[{"match": "pageNumber=3", "status": 500, "times": 2}, {"match": "ERC-2026", "delay": 5}]``
(``match`` is a substring of the request path with its query; ``times`` omitted = always).
"""

from __future__ import annotations

import hashlib
import json
import logging
import mimetypes
import re
import shutil
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

logger = logging.getLogger(__name__)

SEARCH_PATH = "/api.tech.ec.europa.eu/search-api/prod/rest/search"
FACET_PATH = "/api.tech.ec.europa.eu/search-api/prod/rest/facet"
TOPIC_DETAILS_PREFIX = "/ec.europa.eu/info/funding-tenders/opportunities/data/topicDetails/"
PERMISSIVE_ROBOTS = b"User-agent: *\nAllow: /\n"
BUNDLED_SNAPSHOT = Path(__file__).with_name("snapshot")


class Snapshot:
    """A recorded snapshot on disk, with its lookups."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.eu = root / "eu_ft_sedia"
        self.static = root / "static"
        details = self.eu / "topic_details"
        self.topic_files = (
            {p.stem.lower(): p for p in details.glob("*.json")} if details.is_dir() else {}
        )
        pages = self.eu.glob("search_page_*.json") if self.eu.is_dir() else []
        self.search_pages = {int(re.findall(r"\d+", p.stem)[-1]): p for p in pages}
        self.faults_file = root / "_faults.json"
        self.faults: list[dict[str, Any]] = []
        self.faults_stamp: int | None = None
        self.lock = threading.Lock()

    def take_fault(self, target: str) -> dict[str, Any] | None:
        """The first fault that matches ``target`` and has uses left (used up one)."""
        with self.lock:
            # Re-read when the file changes, so a test can break a running mirror.
            stamp = self.faults_file.stat().st_mtime_ns if self.faults_file.exists() else None
            if stamp != self.faults_stamp:
                self.faults_stamp = stamp
                self.faults = json.loads(self.faults_file.read_text()) if stamp else []
            for fault in self.faults:
                if fault.get("match", "") in target:
                    times = fault.get("times")
                    if times is not None:
                        if times <= 0:
                            continue
                        fault["times"] = times - 1
                    return fault
        return None

    def empty_page(self, page: int) -> bytes:
        """An end-of-results page in the envelope of the recorded pages."""
        envelope: dict[str, Any] = {"totalResults": 0, "pageSize": 100}
        if self.search_pages:
            first = json.loads(self.search_pages[min(self.search_pages)].read_bytes())
            envelope = {k: v for k, v in first.items() if k != "results"}
        envelope.update({"pageNumber": page, "results": []})
        return json.dumps(envelope).encode()

    def static_file(self, host: str, path: str, query: str) -> Path | None:
        """``static/HOST/PATH`` for a request, following the README's rules."""
        base = self.static / host
        relative = unquote(path).lstrip("/")
        if not relative or relative.endswith("/"):
            relative += "index.html"
        candidates = []
        if query:
            candidates.append(base / f"{relative}@{query.replace('/', '%2F')}")
        candidates.append(base / relative)
        for candidate in candidates:
            try:
                candidate.resolve().relative_to(self.static.resolve())
            except ValueError:
                return None  # a path that climbs out of the snapshot
            if candidate.is_file():
                return candidate
        return None


def _make_handler(snapshot: Snapshot) -> type[BaseHTTPRequestHandler]:
    class MirrorHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "foerderdesk-mirror"

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("mirror: " + format, *args)

        def _send(
            self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD" and status != 304:
                self.wfile.write(body)

        def _json(self, body: bytes) -> None:
            self._send(200, body, "application/json;charset=UTF-8")

        def _not_found(self) -> None:
            self._send(404, b"not in this snapshot\n", "text/plain; charset=utf-8")

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _fault(self) -> bool:
            fault = snapshot.take_fault(self.path)
            if fault is None:
                return False
            if "delay" in fault:
                time.sleep(float(fault["delay"]))
            if "status" in fault:
                self._send(int(fault["status"]), b"injected fault\n", "text/plain")
                return True
            if "body" in fault:
                self._send(200, fault["body"].encode(), fault.get("content_type", "text/html"))
                return True
            return False

        def do_GET(self) -> None:
            self._dispatch()

        def do_HEAD(self) -> None:
            self._dispatch()

        def do_POST(self) -> None:
            self._dispatch()

        def _dispatch(self) -> None:
            body = self._body() if self.command == "POST" else b""
            if self._fault():
                return
            parts = urlsplit(self.path)
            path, query = parts.path, parts.query
            if path in {SEARCH_PATH, FACET_PATH}:
                self._search_api(path, query, body)
                return
            if path.startswith(TOPIC_DETAILS_PREFIX):
                self._topic_details(path[len(TOPIC_DETAILS_PREFIX) :])
                return
            segments = path.lstrip("/").split("/", 1)
            host = segments[0]
            rest = "/" + (segments[1] if len(segments) > 1 else "")
            if rest == "/robots.txt" or path == "/robots.txt":
                found = snapshot.static_file(host, "/robots.txt", "")
                body = found.read_bytes() if found else PERMISSIVE_ROBOTS
                self._send(200, body, "text/plain; charset=utf-8")
                return
            found = snapshot.static_file(host, rest, query) if host else None
            if found is None:
                self._not_found()
                return
            body = found.read_bytes()
            content_type = mimetypes.guess_type(found.name.split("@")[0])[0] or "text/html"
            if body.startswith(b"PK\x03\x04"):
                content_type = "application/zip"  # an export without an extension
            if content_type.startswith("text/") or content_type.endswith("xml"):
                content_type += "; charset=utf-8"
            validators = _validators(found, body)
            if self._not_modified(validators):
                self._send(304, b"", content_type, validators)
                return
            self._send(200, body, content_type, validators)

        def _not_modified(self, validators: dict[str, str]) -> bool:
            # As a real server: If-None-Match decides when sent, else If-Modified-Since.
            if_none_match = self.headers.get("If-None-Match")
            if if_none_match is not None:
                return validators["ETag"] in {t.strip() for t in if_none_match.split(",")}
            since = self.headers.get("If-Modified-Since")
            if since is None:
                return False
            try:
                return parsedate_to_datetime(since) >= parsedate_to_datetime(
                    validators["Last-Modified"]
                )
            except (TypeError, ValueError):
                return False

        def _search_api(self, path: str, query: str, body: bytes) -> None:
            if self.command != "POST":
                self._send(405, b'{"message":"Method Not Allowed"}', "application/json")
                return
            content_type = self.headers.get("Content-Type", "")
            if "multipart/form-data" not in content_type or b'name="query"' not in body:
                # What the real API does with a plain JSON body or missing parts.
                self._send(500, b'{"message":"An internal error occurred"}', "application/json")
                return
            if path == FACET_PATH:
                facet = snapshot.eu / "facet_frameworkProgramme.json"
                self._json(facet.read_bytes() if facet.exists() else b'{"facets":[]}')
                return
            params = parse_qs(query)
            try:
                page = int(params.get("pageNumber", ["1"])[0])
            except ValueError:
                page = 1
            found = snapshot.search_pages.get(page)
            self._json(found.read_bytes() if found else snapshot.empty_page(page))

        def _topic_details(self, name: str) -> None:
            identifier = unquote(name).removesuffix(".json").replace("/", "_").lower()
            found = snapshot.topic_files.get(identifier)
            if found is None:
                self._not_found()
                return
            self._json(found.read_bytes())

    return MirrorHandler


def _validators(found: Path, body: bytes) -> dict[str, str]:
    """The ETag (of the content) and Last-Modified (of the file) a static file is served
    with, so conditional requests can be tested against the mirror."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return {"ETag": etag, "Last-Modified": formatdate(found.stat().st_mtime, usegmt=True)}


def open_snapshot(path: Path) -> tuple[Path, Callable[[], None]]:
    """The snapshot directory for ``path`` and a function that removes what was unpacked.

    ``path`` is a snapshot directory, a ``.tar.gz`` of one, or a directory holding
    ``*.tar.gz`` parts next to a plain ``static/`` folder (the bundled snapshot: the large
    EU mirror compressed, the small static pages as files others can edit).
    """
    archives = sorted(path.glob("*.tar.gz")) if path.is_dir() else [path]
    if not archives:
        return path, lambda: None
    workdir = Path(tempfile.mkdtemp(prefix="foerderdesk-snapshot-"))
    for archive_path in archives:
        with tarfile.open(archive_path, "r:*") as archive:
            archive.extractall(workdir, filter="data")
    if path.is_dir() and (path / "static").is_dir():
        shutil.copytree(path / "static", workdir / "static", dirs_exist_ok=True)
    return workdir, lambda: shutil.rmtree(workdir, ignore_errors=True)


def make_server(root: Path, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server answering from the snapshot directory ``root`` (port 0: any free)."""
    server = ThreadingHTTPServer((host, port), _make_handler(Snapshot(root)))
    server.daemon_threads = True
    return server


def serve_snapshot_in_background(
    path: Path | str | None = None, host: str = "127.0.0.1", port: int = 0
) -> tuple[str, Callable[[], None]]:
    """Serve a snapshot (default: the bundled demo snapshot) on a free local port.

    Returns ``(mirror_url, stop)``: pass the URL to ``foerderdesk crawl --mirror``; call
    ``stop()`` to shut the server down and remove any unpacked files.
    """
    root, cleanup = open_snapshot(Path(path) if path else BUNDLED_SNAPSHOT)
    server = make_server(root, host, port)
    thread = threading.Thread(target=server.serve_forever, name="snapshot-mirror", daemon=True)
    thread.start()
    bound_host, bound_port = server.server_address[:2]

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        cleanup()

    return f"http://{bound_host}:{bound_port}", stop
