"""The export zip on disk, read one document at a time.

Entries are laid out as the site's content tree (``BMWI/FDB/Content/DE/Foerderprogramm/
Bund/BA/eingliederungszuschuss-bund.xml``); documents link to each other by that path
(``target:/BMWI/FDB/Content/DE/Foerdergeber/B/bkm``). Only the programmes are read in
full; a linked document is read when a programme first needs it and only its title and
address are kept, so memory stays flat however large the export is.
"""

from __future__ import annotations

import html as html_lib
import logging
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

logger = logging.getLogger(__name__)

PROGRAMME_PREFIX = "BMWI/FDB/Content/DE/Foerderprogramm/"
SITE = "https://www.foerderdatenbank.de/"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
# XML 1.0 forbids C0 control characters other than tab, line feed and carriage return.
_FORBIDDEN = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_CDATA = re.compile(r"^\s*<!\[CDATA\[(.*)\]\]>\s*$", re.DOTALL)
_EMPTY_DIV = re.compile(r"^\s*<div[^>]*>\s*</div>\s*$", re.DOTALL)
_TARGET_LINK = re.compile(r'xlink:href="target:(/[^"]+)"')
_XLINK_ATTR = re.compile(r'\s+xlink:(?:type|actuate|show)="[^"]*"')
_TAG = re.compile(r"<[^>]+>")
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


class ExportError(Exception):
    """The download is not an export that can be read whole; nothing of it is used."""


class NotAnExport(ExportError):
    """The body is no zip at all (a bot-check page answering 200, an error page)."""


class TruncatedExport(ExportError):
    """The body starts as a zip but its directory is missing or broken (cut off)."""


class DocumentError(Exception):
    """One document could not be read, even with the forbidden bytes taken out."""


@dataclass
class Document:
    """One export document: its path and its properties, by name."""

    path: str  # the export's path without ``.xml``: BMWI/FDB/Content/DE/...
    root: etree._Element
    repaired: bool = False  # forbidden bytes were taken out before it parsed

    def _property(self, name: str) -> etree._Element | None:
        for prop in self.root.iterchildren("property"):
            if prop.get("name") == name:
                return prop
        return None

    def rich_text(self, name: str) -> str:
        """The HTML of a rich-text property ("" when it is empty): the export writes it as
        escaped text in a CDATA wrapper around a ``<div>``."""
        prop = self._property(name)
        text = prop.findtext("text") if prop is not None else None
        if not text:
            return ""
        match = _CDATA.match(text)
        inner = match.group(1) if match else text
        return "" if _EMPTY_DIV.match(inner) else inner.strip()

    def value(self, name: str) -> str:
        """A plain property's value ("" when absent)."""
        prop = self._property(name)
        return (prop.findtext("value") or "").strip() if prop is not None else ""

    def classified(self) -> dict[str, list[str]]:
        """Every classified link list, by classifier name (``Foerdergebiet`` ...): the targets
        it links to, as export paths (``BMWI/SiteGlobals/Categories/FDB/Foerdergebiet/de_ni``)."""
        lists: dict[str, list[str]] = {}
        for entry in self.root.iter("classifiedLinkList"):
            classifier = entry.find("classifierLinks/link")
            if classifier is None:
                continue
            name = _target(classifier.get(XLINK_HREF, "")).rsplit("/", 1)[-1]
            targets = [_target(link.get(XLINK_HREF, "")) for link in entry.iterfind("links/link")]
            lists.setdefault(name, []).extend(t for t in targets if t)
        return lists

    def links(self, name: str) -> list[str]:
        """The document links of a plain link list property (``gsb:website``)."""
        prop = self._property(name)
        if prop is None:
            return []
        return [_target(link.get(XLINK_HREF, "")) for link in prop.iterfind("links/link")]


def parse_document(path: str, data: bytes) -> Document:
    """``data`` as a :class:`Document`. A document with bytes XML forbids (the real export
    has one: a stray ``\\x02`` inside a word) is parsed again without them, and marked
    ``repaired``; the bytes carry no text, so the text stays the source's."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    try:
        return Document(path, etree.fromstring(data, parser))
    except etree.XMLSyntaxError as first:
        scrubbed, count = _FORBIDDEN.subn(b"", data)
        if not count:
            raise DocumentError(f"{path}: {first}") from first
        try:
            root = etree.fromstring(scrubbed, parser)
        except etree.XMLSyntaxError as exc:
            raise DocumentError(f"{path}: {exc}") from exc
        logger.warning("%s: %d byte(s) XML forbids taken out", path, count)
        return Document(path, root, repaired=True)


def page_url(path: str) -> str:
    """The public page of an export document: ``…/Foerderprogramm/Bund/BA/x`` is
    ``https://www.foerderdatenbank.de/FDB/Content/DE/Foerderprogramm/Bund/BA/x.html``."""
    return SITE + path.removeprefix("BMWI/") + ".html"


@dataclass
class Linked:
    """What a programme needs of a linked document: its title and its address."""

    title: str
    url: str = ""


@dataclass
class ExportArchive:
    """An export zip on disk; open it with :func:`open_export`."""

    zip: zipfile.ZipFile
    entries: dict[str, str]  # export path → zip entry name
    repaired: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    _linked: dict[str, Linked | None] = field(default_factory=dict)

    def programme_paths(self) -> list[str]:
        """Every programme's export path, in a stable order."""
        return sorted(p for p in self.entries if p.startswith(PROGRAMME_PREFIX))

    def document(self, path: str) -> Document:
        """The document at ``path``; raises :class:`DocumentError` (also for a damaged
        entry) and ``KeyError`` when the export does not hold it."""
        name = self.entries[path]
        try:
            data = self.zip.read(name)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:  # CRC error, cut-off entry
            raise DocumentError(f"{path}: {exc}") from exc
        document = parse_document(path, data)
        if document.repaired:
            self.repaired.append(path)
        return document

    def programmes(self) -> Iterator[Document | DocumentError]:
        """Each programme document in turn, or the error that kept one from being read."""
        for path in self.programme_paths():
            try:
                yield self.document(path)
            except DocumentError as exc:
                self.unreadable.append(path)
                yield exc

    def linked(self, path: str) -> Linked | None:
        """Title and address of the linked document ``path`` (read once), or ``None`` when
        the export lacks it or it cannot be read; each such link is counted once."""
        if path in self._linked:
            return self._linked[path]
        found: Linked | None = None
        if path.startswith(PROGRAMME_PREFIX):
            found = Linked(title="", url=page_url(path))  # a page of the site itself
        elif path in self.entries:
            try:
                document = self.document(path)
            except DocumentError as exc:
                logger.warning("linked document not readable: %s", exc)
            else:
                found = Linked(
                    title=plain_text(document.rich_text("gsb:title")), url=_url_of(document)
                )
        if found is None:
            logger.warning("linked document missing from the export: %s", path)
            self.missing.append(path)
        self._linked[path] = found
        return found

    def resolve_links(self, html: str) -> str:
        """``html`` with its links to other export documents turned into real addresses
        (an external link's URL, a programme's page); a link whose document is missing
        keeps its text and loses its target."""

        def replace(match: re.Match[str]) -> str:
            linked = self.linked(match.group(1).lstrip("/"))
            return f'href="{html_lib.escape(linked.url)}"' if linked and linked.url else ""

        return _XLINK_ATTR.sub("", _TARGET_LINK.sub(replace, html))

    def close(self) -> None:
        """Close the zip file."""
        self.zip.close()


def open_export(path: Path) -> ExportArchive:
    """The export at ``path``; raises :class:`NotAnExport` or :class:`TruncatedExport`."""
    with path.open("rb") as head_file:
        head = head_file.read(512)
    if not head.startswith(_ZIP_MAGIC):
        raise NotAnExport(f"not a zip ({path.stat().st_size} bytes, starts {_sniff(head)!r})")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise TruncatedExport(
            f"zip directory unreadable ({path.stat().st_size} bytes): {exc}"
        ) from exc
    entries = {}
    for info in archive.infolist():
        name = info.filename
        if name.endswith(".xml") and not info.is_dir():
            entries[name.lstrip("/").removesuffix(".xml")] = name
    return ExportArchive(zip=archive, entries=entries)


def _target(href: str) -> str:
    return href.removeprefix("target:").lstrip("/")


def _url_of(document: Document) -> str:
    url = document.value("gsb:url")
    if url:
        return url
    if document.path.startswith(PROGRAMME_PREFIX):
        return page_url(document.path)
    return ""


def plain_text(html: str) -> str:
    """The words of ``html`` on one line: tags out, entities decoded (for titles and for
    looking for dates, where the full text rendering would only cost time)."""
    text = _TAG.sub(" ", html)
    return " ".join(html_lib.unescape(text).split())


def _sniff(head: bytes) -> str:
    return " ".join(head[:60].decode("utf-8", "replace").split())
