"""Förderdatenbank des Bundes (foerderdatenbank.de) through its programme export.

The site's HTML pages answer automated clients with a bot check; for programs it offers one
zip of XML documents instead (every programme and the documents it links to). One
conditional GET fetches it (:mod:`crawler.foerderdatenbank.download`), the zip is read one
document at a time from disk (:mod:`crawler.foerderdatenbank.archive`), and each programme
in the configured regions becomes one call.

- A body that is not a zip (a bot-check page answering 200) closes the spider
  ``blocked: ...``; a zip cut off closes it ``truncated: ...``. Either fails the run and
  changes nothing.
- An unchanged export (304, or the ETag kept from the last complete read) ends the run at
  once, successfully; :mod:`crawler.runs` keeps every stored programme as seen.
- A programme document that cannot be read is an error (the run is partial, nothing is
  withdrawn); forbidden bytes are taken out and counted; a missing linked document is
  counted and the programme stored without what it would have told.

Settings (``crawler/sources.yaml``): ``export_url``, ``regions`` (ISO codes kept, ``DE``
for "bundesweit"), ``max_export_mb``, ``download_delay``.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from scrapy.settings import BaseSettings
from twisted.python.failure import Failure

from crawler.foerderdatenbank import codes
from crawler.foerderdatenbank.archive import (
    PROGRAMME_PREFIX,
    Document,
    DocumentError,
    ExportArchive,
    NotAnExport,
    TruncatedExport,
    open_export,
    page_url,
    plain_text,
)
from crawler.foerderdatenbank.download import (
    SPOOL,
    ExportSpool,
    Validators,
    header,
    load_validators,
    save_validators,
    settings_key,
)
from crawler.items import FundingCallItem
from crawler.normalize.dates import find_deadlines
from crawler.normalize.text import html_to_text
from crawler.spiders import SourceSpider

logger = logging.getLogger(__name__)

EXPORT_URL = "https://www.foerderdatenbank.de/FDB/WS/export"
ROBOTS_CRAWL_DELAY = 30.0  # robots.txt: Crawl-delay: 30
ATTRIBUTION = "Quelle: Förderdatenbank des Bundes (BMWE), www.foerderdatenbank.de, CC BY-ND 4.0"
DEFAULT_REGIONS = ("DE-NI", "DE")
# Rich-text properties and the page's own words for them. The guideline text
# (gsb:bodyText) brings its own headings ("Ziel und Gegenstand", "Antragsberechtigte" ...).
DESCRIPTION_PARTS = (
    ("gsb:summary", "Kurzzusammenfassung"),
    ("gsb:bodyText", ""),
    ("gsb:procDescription", ""),
)
CONDITION_PARTS = (
    ("gsb:regulatoryFWork", "Rechtliche Voraussetzungen"),
    ("gsb:procMethod", "Verfahren"),
    ("gsb:competenceDescr", "Erforderliche Unterlagen"),
    ("gsb:progress", "Bearbeitungsdauer"),
)
_PART_OF_PROGRAMME = re.compile(
    r"im\s+Rahmen\s+(?:des|der)\s+(?:Förder|Bundes|Landes)?(?:programms?|initiative)\s+"
    r"[„\"“»]([^“”\"«]{3,150})[“”\"«]",
    re.IGNORECASE,
)
_BLOCK_END = re.compile(r"</(?:p|li|h\d|div|td)>", re.IGNORECASE)
# Why a programme of the export is not kept (counted as foerderdesk/dropped/<reason>).
NOT_KEPT = {
    "outside_regions": "outside the regions kept",
    "no_region": "no Fördergebiet",
    "unknown_region": "a Fördergebiet code we do not know",
}


class FoerderdatenbankSpider(SourceSpider):
    """The export, downloaded once; one item per programme in the regions kept."""

    name = "foerderdatenbank"
    custom_settings = {  # noqa: RUF012 (Scrapy reads this class attribute)
        "DOWNLOAD_DELAY": ROBOTS_CRAWL_DELAY,
        "AUTOTHROTTLE_START_DELAY": ROBOTS_CRAWL_DELAY,
        "DOWNLOAD_DELAY_JITTER": 0.0,  # never faster than the robots.txt delay
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "DOWNLOAD_TIMEOUT": 600,  # one large file
    }

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        """Apply ``custom_settings``, then the source's own ``download_delay``."""
        super().update_settings(settings)
        source = settings.getdict("FOERDERDESK_SOURCE") or {}
        delay = (source.get("settings") or {}).get("download_delay")
        if delay is not None:
            settings.set("DOWNLOAD_DELAY", float(delay), priority="spider")
            settings.set("AUTOTHROTTLE_START_DELAY", float(delay), priority="spider")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.export_url = str(self.config.get("export_url") or EXPORT_URL)
        self.regions = [str(r).upper() for r in self.config.get("regions") or DEFAULT_REGIONS]
        self.max_bytes = int(float(self.config.get("max_export_mb", 512)) * 1024 * 1024)
        self.counts: Counter[str] = Counter()
        self.unknown_region_codes: set[str] = set()
        self.read_whole = False
        self.unchanged = ""
        self.failure = ""
        self.archive: ExportArchive | None = None
        self.validators_path: Path | None = None
        self.previous: Validators | None = None
        self.fresh: Validators | None = None
        self.spool: ExportSpool | None = None
        self.body_file: Path | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        """The spider with its spool and the validators of the last complete read."""
        spider = super().from_crawler(crawler, *args, **kwargs)
        state_dir = crawler.settings.get("FOERDERDESK_STATE_DIR")
        if state_dir:
            spider.validators_path = Path(state_dir) / f"{spider.source}_export.json"
        kept = load_validators(spider.validators_path)
        # Conditional only while the store holds what that read produced, under these settings.
        if kept and spider.known and kept.settings_key == settings_key(spider.config):
            spider.previous = kept
        spider.spool = ExportSpool(crawler, stop_at_etag=kept.etag if spider.previous else "")
        return spider

    async def start(self) -> Any:
        """The one export request (Scrapy's entry point)."""
        yield scrapy.Request(
            self.export_url,
            headers=self.previous.request_headers() if self.previous else None,
            callback=self.parse,
            errback=self.download_failed,
            dont_filter=True,
            meta={
                SPOOL: True,
                "download_maxsize": self.max_bytes,
                "download_warnsize": self.max_bytes,
                "handle_httpstatus_list": [304],
            },
        )

    def parse(self, response: Response, **_: Any) -> Iterator[FundingCallItem]:
        """The export's answer: unchanged, or a zip read programme by programme."""
        etag = header(response.headers, "ETag")
        same_etag = bool(self.previous and etag and etag == self.previous.etag)
        if response.status == 304 or ("download_stopped" in response.flags and same_etag):
            self.unchanged = "HTTP 304" if response.status == 304 else f"same ETag {etag}"
            self._stats().set_value("foerderdesk/source_unchanged", 1)
            return
        path = self.spool.finish() if self.spool else None
        if path is None or self.spool is None or self.spool.size != len(response.body):
            path = self.body_file = _write_body(response.body)  # arrived without the signals
        else:
            logger.info("export: %d bytes spooled to %s", self.spool.size, path)
        self.fresh = Validators(
            etag=etag,
            last_modified=header(response.headers, "Last-Modified"),
            settings_key=settings_key(self.config),
        )
        yield from self.read_export(path)

    def download_failed(self, failure: Failure) -> None:
        """The export could not be downloaded (after the retries): an error, nothing read."""
        self.failure = f"export not downloaded: {failure.getErrorMessage()}"
        logger.error("%s (%s)", self.failure, self.export_url)

    def read_export(self, path: Path) -> Iterator[FundingCallItem]:
        """Every programme of the export at ``path`` kept by the region setting."""
        try:
            self.archive = open_export(path)
        except NotAnExport as exc:
            raise CloseSpider(f"blocked: the export is {exc} at {self.export_url}") from exc
        except TruncatedExport as exc:
            raise CloseSpider(f"truncated: the export's {exc}; nothing read") from exc
        stats = self._stats()
        try:
            for document in self.archive.programmes():
                self.counts["programmes"] += 1
                if isinstance(document, DocumentError):
                    logger.error("programme not readable: %s", document)
                    self.counts["unreadable"] += 1
                    continue
                item, reason = self.build_item(document)
                if item is None:
                    self.counts[reason] += 1
                    stats.inc_value(f"foerderdesk/dropped/{reason}")
                    continue
                self.counts["kept"] += 1
                yield item
            self.read_whole = True
        finally:
            for key in ("programmes", "kept", "unreadable"):
                stats.set_value(f"foerderdesk/export/{key}", self.counts[key])
            stats.set_value("foerderdesk/export/repaired", len(self.archive.repaired))
            stats.set_value("foerderdesk/export/links_missing", len(self.archive.missing))
            self.archive.close()

    def build_item(self, document: Document) -> tuple[FundingCallItem | None, str]:
        """The call for one programme, or ``(None, reason)`` when it is not kept."""
        assert self.archive is not None
        classified = document.classified()
        region_codes = _codes(classified, "Foerdergebiet")
        regions = list(dict.fromkeys(codes.FOERDERGEBIET.get(c, "") for c in region_codes))
        if not region_codes:
            return None, "no_region"
        if "" in regions:
            self.unknown_region_codes.update(
                c for c in region_codes if c not in codes.FOERDERGEBIET
            )
            return None, "unknown_region"
        if not any(region in self.regions for region in regions):
            return None, "outside_regions"

        source_id = document.path.removeprefix(PROGRAMME_PREFIX)
        title = html_to_text(document.rich_text("gsb:title")).replace("\n", " ")
        description_html = self._sections(document, DESCRIPTION_PARTS)
        conditions_html = self._sections(document, CONDITION_PARTS)
        applicants = codes.labels(
            codes.FOERDERBERECHTIGTE, _codes(classified, "Foerderberechtigte")
        )
        return (
            FundingCallItem(
                source=self.source,
                source_id=source_id,
                url=page_url(document.path),
                title=title,
                summary=html_to_text(document.rich_text("gsb:teaserText")),
                description_html=description_html,
                conditions_html=conditions_html,
                language="de",
                funder=self._funder(classified),
                funder_type=codes.FUNDER_TYPE_BY_LEVEL.get(source_id.split("/", 1)[0], ""),
                programme=programme_name(title),
                call_identifier=source_id.rsplit("/", 1)[-1],
                type_of_action=", ".join(
                    codes.labels(codes.FOERDERART, _codes(classified, "Foerderart"))
                ),
                status_source="gelistet",
                # Storage keeps no publication date: the programme is open since it was issued.
                opening_date_raw=document.value("gsb:dateOfIssue"),
                deadlines=_deadlines(document, description_html, conditions_html),
                applicants_raw=applicants,
                eligibility_text=", ".join(applicants),
                regions=regions,
                keywords=codes.labels(codes.FOERDERBEREICH, _codes(classified, "Foerderbereich")),
                attribution=ATTRIBUTION,
            ),
            "",
        )

    def _sections(self, document: Document, parts: tuple[tuple[str, str], ...]) -> str:
        assert self.archive is not None
        html = []
        for name, heading in parts:
            text = document.rich_text(name)
            if text:
                html.append(
                    (f"<h2>{heading}</h2>" if heading else "") + self.archive.resolve_links(text)
                )
        return "\n".join(html)

    def _funder(self, classified: dict[str, list[str]]) -> str:
        """The funder's name from its linked document; without one, the programme's contact
        point (who funds it, for the smaller Land programmes)."""
        assert self.archive is not None
        for key in ("Foerderorganisation", "Kontakt"):
            names = [
                linked.title
                for path in _documents(classified, key)
                if (linked := self.archive.linked(path)) is not None and linked.title
            ]
            if names:
                return ", ".join(dict.fromkeys(names))
        return ""

    def closed(self, reason: str) -> None:
        """Leave the report for the run record; keep the validators after a clean read."""
        stats = self._stats()
        stats.set_value("foerderdesk/report", self.report())
        errors = int(stats.get_value("log_count/ERROR", 0)) + int(
            stats.get_value("foerderdesk/lost_in_batch", 0)
        )
        clean = reason == "finished" and self.read_whole and not errors
        if clean and self.validators_path is not None and self.fresh is not None:
            if self.fresh.etag or self.fresh.last_modified:
                save_validators(self.validators_path, self.fresh)
            else:
                self.validators_path.unlink(missing_ok=True)  # nothing to be conditional on
        if self.spool is not None:
            self.spool.discard()
        if self.body_file is not None:
            self.body_file.unlink(missing_ok=True)

    def report(self) -> str:
        """One line for the run record: held, kept, and why the others were not."""
        if self.unchanged:
            return (
                f"export unchanged since the last complete read ({self.unchanged}): "
                "stored programmes kept"
            )
        if self.failure:
            return self.failure
        if not self.counts["programmes"]:
            return "export not read"
        count = self.counts
        line = (
            f"export: {count['programmes']} programmes, {count['kept']} kept "
            f"(regions {', '.join(self.regions)})"
        )
        not_kept = [f"{count[key]} {words}" for key, words in NOT_KEPT.items() if count[key]]
        if self.unknown_region_codes:
            not_kept[-1] += f" ({', '.join(sorted(self.unknown_region_codes))})"
        if count["unreadable"]:
            not_kept.append(f"{count['unreadable']} unreadable")
        if not_kept:
            line += "; not kept: " + ", ".join(not_kept)
        if self.archive is not None and self.archive.repaired:
            line += f"; {len(self.archive.repaired)} document(s) read without bytes XML forbids"
        if self.archive is not None and self.archive.missing:
            line += f"; {len(self.archive.missing)} linked document(s) missing"
        if not self.read_whole:
            line += "; the export was not read to its end"
        return line

    def _stats(self) -> Any:
        assert self.crawler.stats is not None
        return self.crawler.stats


def programme_name(title: str) -> str:
    """The programme an entry belongs to: the one its title names ("… im Rahmen des
    Förderprogramms „Existenzgründungen aus der Wissenschaft“"), else the entry itself."""
    named = _PART_OF_PROGRAMME.search(title)
    return named.group(1).strip() if named else title


def _codes(classified: dict[str, list[str]], classifier: str) -> list[str]:
    """The codes a classifier names (the last segment of its category links)."""
    return [t.rsplit("/", 1)[-1] for t in classified.get(classifier, []) if "/Categories/" in t]


def _documents(classified: dict[str, list[str]], classifier: str) -> list[str]:
    """The export documents a classifier links to (funders, contacts)."""
    return [t for t in classified.get(classifier, []) if "/Content/" in t]


def _deadlines(
    document: Document, description_html: str, conditions_html: str
) -> list[dict[str, Any]]:
    """Deadlines from the programme's deadline text ("Fristen"), else from its prose, read
    by the project's German date rules (a date, a yearly date, rolling)."""
    stated = plain_text(document.rich_text("gsb:procInfluence"))
    found = find_deadlines(stated, require_cue=False) if stated else []
    if not found:
        # Blocks end in a full stop for the date rules' sentence limits, then tags go.
        prose = plain_text(_BLOCK_END.sub(". ", f"{description_html}\n{conditions_html}"))
        found = find_deadlines(prose)
    return [{"raw": deadline.raw, "stage": "", "label": "Antragsfrist"} for deadline in found]


def _write_body(body: bytes) -> Path:
    with tempfile.NamedTemporaryFile(
        prefix="foerderdatenbank-export-", suffix=".zip", delete=False
    ) as handle:
        handle.write(body)
    return Path(handle.name)
