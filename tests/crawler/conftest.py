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
