"""Downloader middlewares: mirrors and retries with backoff.

Mirrors (README, "Mirrors"): with a mirror ``URL`` configured (``--mirror URL`` or
``FOERDERDESK_CRAWL_MIRROR``), every request to ``https://HOST/PATH?QUERY`` goes to
``URL/HOST/PATH?QUERY`` instead, with the same method, headers and body. The spiders do not
know: the demo, the tests and anyone checking a spider offline use this one mechanism.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Self
from urllib.parse import urlsplit

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

logger = logging.getLogger(__name__)

MIRRORED = "foerderdesk_mirrored"


def mirror_url(url: str, mirror: str) -> str:
    """``https://HOST/PATH?QUERY`` as it is found on ``mirror``: ``MIRROR/HOST/PATH?QUERY``."""
    parts = urlsplit(url)
    path = parts.path or "/"
    query = f"?{parts.query}" if parts.query else ""
    return f"{mirror.rstrip('/')}/{parts.netloc}{path}{query}"


class MirrorMiddleware:
    """Send every request to the configured mirror (``FOERDERDESK_MIRROR``)."""

    def __init__(self, mirror: str) -> None:
        self.mirror = mirror.rstrip("/")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Enabled only when a mirror is configured."""
        mirror = crawler.settings.get("FOERDERDESK_MIRROR", "")
        if not mirror:
            raise NotConfigured("no mirror configured")
        logger.info("crawling through the mirror %s", mirror)
        return cls(mirror)

    def process_request(self, request: Request, spider: Spider | None = None) -> Request | None:
        """Replace the request by its mirrored twin (same method, headers and body)."""
        if request.meta.get(MIRRORED) or request.url.startswith(self.mirror + "/"):
            return None
        return request.replace(
            url=mirror_url(request.url, self.mirror),
            # robots.txt was already checked for the real site (the robots middleware runs
            # before this one); the mirror host itself is not what the spider crawls.
            meta={**request.meta, MIRRORED: True, "dont_obey_robotstxt": True},
            dont_filter=True,
        )


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries, but each retry waits longer: base * 2**(attempt-1) seconds,
    or what the server's ``Retry-After`` asks for (capped at two minutes)."""

    MAX_WAIT = 120.0

    def __init__(self, settings) -> None:  # type: ignore[no-untyped-def]
        super().__init__(settings)
        self.backoff_base = settings.getfloat("FOERDERDESK_BACKOFF_BASE", 2.0)

    def _wait_for(self, request: Request, response: Response | None = None) -> float:
        if response is not None:
            retry_after = response.headers.get(b"Retry-After")
            if retry_after and retry_after.strip().isdigit():
                return min(float(retry_after.strip()), self.MAX_WAIT)
        attempt = int(request.meta.get("retry_times", 0)) + 1
        return min(self.backoff_base * 2 ** (attempt - 1), self.MAX_WAIT)

    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        """Retry a retryable status after a backoff wait."""
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        retry = self._retry(request, f"HTTP {response.status}")
        if retry is None:
            return response
        await asyncio.sleep(self._wait_for(request, response))
        return retry

    async def process_exception(  # type: ignore[override]
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> Request | Response | None:
        """Retry a network error (time-out, refused connection) after a backoff wait."""
        if not isinstance(exception, self.exceptions_to_retry) or request.meta.get("dont_retry"):
            return None
        retry = self._retry(request, exception)
        if retry is None:
            return None
        await asyncio.sleep(self._wait_for(request))
        return retry
