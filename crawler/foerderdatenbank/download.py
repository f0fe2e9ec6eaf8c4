"""The export's download: spooled to a temporary file, and conditional on the last one.

**Spooling.** Scrapy offers no public way to hand a response body to a file instead of
memory: its HTTP/1.1 handler buffers the body and passes it on whole. We connect to the
``headers_received`` and ``bytes_received`` signals for the export request alone and write
each chunk to a temporary file as it arrives, so everything after the download (zip
directory, one document at a time) works from disk; the one in-memory copy Scrapy keeps is
capped by the request's ``download_maxsize``. A retried request starts the file afresh.

**Validators.** After a run that read the whole export cleanly, its ``ETag`` and
``Last-Modified`` are kept in the instance folder; the next request sends them
(``If-None-Match`` / ``If-Modified-Since``). A 304, or a 200 with the very ETag we kept
(some servers ignore the condition: the download is stopped at its headers), means the
export is the one already stored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import StopDownload
from scrapy.http import Headers

logger = logging.getLogger(__name__)

SPOOL = "foerderdesk_spool"  # request meta: spool this request's body to a file


@dataclass(frozen=True)
class Validators:
    """What identifies the export last read whole, and under which settings."""

    etag: str = ""
    last_modified: str = ""
    settings_key: str = ""

    def request_headers(self) -> dict[str, str]:
        """The conditional request's headers."""
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


def settings_key(config: dict[str, Any]) -> str:
    """A hash of the source's settings: an export read under other settings (other regions
    kept) must be read again, whatever the server says of it."""
    payload = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def load_validators(path: Path | None) -> Validators | None:
    """The kept validators, or ``None`` (none kept, or the file unreadable)."""
    if path is None or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Validators(
            **{k: str(data.get(k, "")) for k in ("etag", "last_modified", "settings_key")}
        )
    except (OSError, ValueError, TypeError) as exc:
        logger.warning("validators %s unreadable (%s); the export is fetched whole", path, exc)
        return None


def save_validators(path: Path, validators: Validators) -> None:
    """Keep ``validators`` for the next run (written whole, then renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(asdict(validators), indent=2), encoding="utf-8")
    partial.replace(path)


def header(headers: Headers | None, name: str) -> str:
    """One response header as text ("" when absent)."""
    value = headers.get(name) if headers is not None else None
    return value.decode("latin-1").strip() if value else ""


class ExportSpool:
    """Writes the body of requests marked ``meta[SPOOL]`` to a temporary file as it arrives."""

    def __init__(self, crawler: Crawler, *, stop_at_etag: str = "") -> None:
        self.stop_at_etag = stop_at_etag
        self.path: Path | None = None
        self.size = 0
        self.headers: Headers | None = None
        self._file: IO[bytes] | None = None
        crawler.signals.connect(self.headers_received, signal=signals.headers_received)
        crawler.signals.connect(self.bytes_received, signal=signals.bytes_received)

    def headers_received(self, headers: Headers, request: Request, **_: Any) -> None:
        """A (new) response to the export request: start the file afresh; stop at once when
        the server sends the ETag of the export already stored."""
        if not request.meta.get(SPOOL):
            return
        self.discard()
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in finish/discard)
            prefix="foerderdatenbank-export-", suffix=".zip", delete=False
        )
        self._file, self.path, self.size, self.headers = handle, Path(handle.name), 0, headers
        if self.stop_at_etag and header(headers, "ETag") == self.stop_at_etag:
            raise StopDownload(fail=False)

    def bytes_received(self, data: bytes, request: Request, **_: Any) -> None:
        """Append one chunk of the export's body to the file."""
        if request.meta.get(SPOOL) and self._file is not None:
            self._file.write(data)
            self.size += len(data)

    def finish(self) -> Path | None:
        """The complete file (closed), or ``None`` when nothing was spooled."""
        if self._file is not None:
            self._file.close()
            self._file = None
        return self.path

    def discard(self) -> None:
        """Remove the file (a retry starts over; the run is over)."""
        self.finish()
        if self.path is not None:
            self.path.unlink(missing_ok=True)
        self.path, self.size = None, 0
