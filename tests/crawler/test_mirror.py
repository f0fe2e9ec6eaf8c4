"""Mirrors: the URL rewrite, the middleware, and the snapshot server."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from scrapy import Request

from crawler.middlewares import MIRRORED, MirrorMiddleware, mirror_url
from crawler.mirror import serve_snapshot_in_background
from crawler.settings import build_scrapy_settings, user_agent
from crawler.spiders.eu_funding_tenders import multipart_body
from storage.config import load_settings
from tests.crawler.conftest import EU_MIRROR


def test_mirror_url_keeps_host_path_and_query() -> None:
    assert (
        mirror_url(
            "https://api.tech.ec.europa.eu/search-api/prod/rest/search?a=1&b=***", "http://m:1/"
        )
        == "http://m:1/api.tech.ec.europa.eu/search-api/prod/rest/search?a=1&b=***"
    )
    assert mirror_url("https://www.dbu.de", "http://m:1") == "http://m:1/www.dbu.de/"


def test_middleware_keeps_method_headers_and_body() -> None:
    original = Request(
        "https://api.tech.ec.europa.eu/search?x=1",
        method="POST",
        body=b"payload",
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    mirrored = MirrorMiddleware("http://127.0.0.1:9").process_request(original)
    assert mirrored is not None
    assert mirrored.url == "http://127.0.0.1:9/api.tech.ec.europa.eu/search?x=1"
    assert (mirrored.method, mirrored.body) == ("POST", b"payload")
    assert mirrored.headers[b"Content-Type"] == b"multipart/form-data; boundary=b"
    assert mirrored.meta[MIRRORED]
    assert MirrorMiddleware("http://127.0.0.1:9").process_request(mirrored) is None


def test_polite_settings_and_user_agent() -> None:
    settings = load_settings(environ={}, contact_email="desk@hannover.example")
    assert user_agent(settings).startswith("foerderdesk/")
    assert user_agent(settings).endswith("(+desk@hannover.example)")
    polite = build_scrapy_settings(settings, source_settings={"download_delay": 30})
    assert polite.getbool("ROBOTSTXT_OBEY") and polite.getbool("AUTOTHROTTLE_ENABLED")
    assert polite.getfloat("DOWNLOAD_DELAY") == 30
    assert polite.get("USER_AGENT") == user_agent(settings)
    local = build_scrapy_settings(settings, mirror="http://127.0.0.1:8765")
    assert local.getfloat("DOWNLOAD_DELAY") == 0


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    static = tmp_path / "static" / "www.dbu.de"
    (static / "foerderung").mkdir(parents=True)
    (static / "foerderung" / "index.html").write_text("<h1>index</h1>")
    (static / "foerderung" / "list.html").write_text("<h1>plain</h1>")
    (static / "foerderung" / "list.html@page=2").write_text("<h1>page 2</h1>")
    (tmp_path / "eu_ft_sedia").symlink_to(EU_MIRROR / "eu_ft_sedia")
    url, stop = serve_snapshot_in_background(tmp_path)
    yield url
    stop()


def _fetch(url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_server_answers_search_like_the_real_api(served: str) -> None:
    search = f"{served}/api.tech.ec.europa.eu/search-api/prod/rest/search?apiKey=SEDIA&pageNumber=2"
    assert _fetch(search)[0] == 405
    assert _fetch(search, b'{"query": {}}', {"Content-Type": "application/json"})[0] == 500
    body = multipart_body({"query": {}, "languages": ["en"], "sort": {}})
    headers = {
        "Content-Type": "multipart/form-data; boundary=----foerderdeskFormBoundary7MA4YWxkTrZu0gW"
    }
    status, page = _fetch(search, body, headers)
    assert status == 200 and json.loads(page)["pageNumber"] == 2
    status, beyond = _fetch(search.replace("pageNumber=2", "pageNumber=9"), body, headers)
    assert json.loads(beyond)["results"] == []


def test_server_answers_topic_details_and_static_pages(served: str) -> None:
    details = f"{served}/ec.europa.eu/info/funding-tenders/opportunities/data/topicDetails/"
    status, body = _fetch(details + "EuropeAid%2F186246%2FDD%2FACT%2FNG.json")
    assert (
        status == 200
        and json.loads(body)["TopicDetails"]["identifier"] == "EuropeAid/186246/DD/ACT/NG"
    )
    assert _fetch(details + "erc-2026-poc.json")[0] == 200  # any letter case
    assert _fetch(details + "NOPE.json")[0] == 404
    assert _fetch(f"{served}/www.dbu.de/foerderung/")[1] == b"<h1>index</h1>"
    assert _fetch(f"{served}/www.dbu.de/foerderung/list.html?page=2")[1] == b"<h1>page 2</h1>"
    assert _fetch(f"{served}/www.dbu.de/foerderung/list.html?utm=x")[1] == b"<h1>plain</h1>"
    assert _fetch(f"{served}/www.dbu.de/../../etc/passwd")[0] == 404
    status, robots = _fetch(f"{served}/www.dbu.de/robots.txt")
    assert status == 200 and b"Allow: /" in robots
