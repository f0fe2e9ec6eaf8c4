"""Fixtures for crawler tests: saved responses and a spider bound to a test crawler."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import TextResponse
from scrapy.utils.test import get_crawler

from crawler.mirror import serve_snapshot_in_background
from crawler.spiders.eu_funding_tenders import EuFundingTendersSpider

EU_DATA = Path(__file__).parent.parent / "data" / "crawler" / "eu_funding_tenders"
EU_MIRROR = EU_DATA / "mirror"


def json_response(request: Request, payload: Any | str | bytes, status: int = 200) -> TextResponse:
    """A saved JSON body answering ``request``."""
    if isinstance(payload, str | bytes):
        body = payload.encode() if isinstance(payload, str) else payload
    else:
        body = json.dumps(payload).encode()
    return TextResponse(
        url=request.url,
        body=body,
        encoding="utf-8",
        status=status,
        request=request,
        headers={"Content-Type": "application/json"},
    )


@pytest.fixture
def eu_spider() -> EuFundingTendersSpider:
    """The EU spider on a test crawler (stats included), configured as in sources.yaml."""
    crawler = get_crawler(EuFundingTendersSpider)
    spider = EuFundingTendersSpider.from_crawler(
        crawler, source="eu_funding_tenders", config={"page_size": 100}
    )
    crawler.spider = spider
    return spider


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    """A private copy of the EU test mirror that a test may break."""
    root = tmp_path / "snapshot"
    shutil.copytree(EU_MIRROR, root)
    return root


@pytest.fixture
def mirror(snapshot: Path) -> Iterator[str]:
    """The copy served as a crawl mirror; its base URL."""
    url, stop = serve_snapshot_in_background(snapshot)
    yield url
    stop()


# --- the Förderdatenbank export -------------------------------------------------------------
FDB_EXPORT = Path(__file__).parent.parent / "data" / "foerderdatenbank_export"
FDB_DOCS = "BMWI/FDB/Content/DE/"
FDB_EXPORT_PATH = "www.foerderdatenbank.de/FDB/WS/export"


def fdb_document(relative: str) -> bytes:
    """One document of the real excerpt (``Foerderprogramm/Bund/BA/…xml``), as bytes."""
    return (FDB_EXPORT / FDB_DOCS / relative).read_bytes()


@pytest.fixture
def fdb_snapshot(tmp_path: Path) -> Path:
    """A snapshot holding only the Förderdatenbank: the real excerpt zipped as the export,
    and the site's robots.txt; a test may rebuild or break the export."""
    from crawler.foerderdatenbank.build import build_export
    from crawler.mirror import BUNDLED_SNAPSHOT

    root = tmp_path / "fdb_snapshot"
    site = root / "static" / "www.foerderdatenbank.de"
    (site / "FDB" / "WS").mkdir(parents=True)
    shutil.copy(BUNDLED_SNAPSHOT / "static" / "www.foerderdatenbank.de" / "robots.txt", site)
    build_export(FDB_EXPORT, root / "static" / FDB_EXPORT_PATH)
    return root


@pytest.fixture
def fdb_mirror(fdb_snapshot: Path) -> Iterator[str]:
    """That snapshot served as a crawl mirror; its base URL."""
    url, stop = serve_snapshot_in_background(fdb_snapshot)
    yield url
    stop()
