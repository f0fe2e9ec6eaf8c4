"""Scrapy settings for every foerderdesk crawl, built from :class:`storage.config.Settings`.

Polite by default: robots.txt obeyed, one request at a time per site, AutoThrottle, retries
with backoff, and a user agent that names foerderdesk and a contact address, so that the
sites' operators know who is calling and how to reach us.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit

from scrapy.settings import Settings as ScrapySettings

from storage.config import Settings

BOT_NAME = "foerderdesk"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

BASE_SETTINGS: dict[str, Any] = {
    "BOT_NAME": BOT_NAME,
    "SPIDER_MODULES": SPIDER_MODULES,
    "NEWSPIDER_MODULE": NEWSPIDER_MODULE,
    "ROBOTSTXT_OBEY": True,
    "CONCURRENT_REQUESTS": 8,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
    "DOWNLOAD_DELAY": 1.0,
    "DOWNLOAD_DELAY_JITTER": 0.5,
    "DOWNLOAD_TIMEOUT": 60,
    "AUTOTHROTTLE_ENABLED": True,
    "AUTOTHROTTLE_START_DELAY": 1.0,
    "AUTOTHROTTLE_MAX_DELAY": 60.0,
    "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,
    "RETRY_ENABLED": True,
    "RETRY_TIMES": 3,
    "RETRY_HTTP_CODES": [500, 502, 503, 504, 408, 429],
    "COOKIES_ENABLED": False,
    "TELNETCONSOLE_ENABLED": False,
    "LOGSTATS_INTERVAL": 15.0,
    # The crawl-run summary line replaces Scrapy's stats dump at the end of a crawl.
    "STATS_DUMP": False,
    "LOG_LEVEL": "INFO",
    "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
    "DOWNLOADER_MIDDLEWARES": {
        # Right after robots.txt (100), so robots are checked for the
        # real site, every request (robots.txt included) goes to the mirror, and the
        # downloader stats (850) count each request once.
        "crawler.middlewares.MirrorMiddleware": 110,
        "crawler.middlewares.BackoffRetryMiddleware": 550,
        "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    },
    "ITEM_PIPELINES": {
        "crawler.pipelines.NormalizePipeline": 300,
        "crawler.pipelines.StorePipeline": 800,
    },
    "EXTENSIONS": {
        "crawler.runs.ProgressReporter": 510,
    },
    # foerderdesk's own knobs
    "FOERDERDESK_BATCH_SIZE": 25,
    "FOERDERDESK_PROGRESS_EVERY": 100,
    "FOERDERDESK_BACKOFF_BASE": 2.0,
}


def foerderdesk_version() -> str:
    """The installed foerderdesk version (``0+unknown`` from a bare checkout)."""
    try:
        return version("foerderdesk")
    except PackageNotFoundError:
        return "0+unknown"


def user_agent(settings: Settings) -> str:
    """``foerderdesk/<version> (+<contact>)``: who we are and how to reach us."""
    return f"foerderdesk/{foerderdesk_version()} (+{settings.contact_email})"


def is_local_mirror(mirror: str) -> bool:
    """True when ``mirror`` is served from this machine."""
    host = urlsplit(mirror).hostname if mirror else None
    return host in {"127.0.0.1", "localhost", "::1"}


def build_scrapy_settings(
    settings: Settings,
    *,
    source_settings: dict[str, Any] | None = None,
    mirror: str = "",
    overrides: dict[str, Any] | None = None,
) -> ScrapySettings:
    """Scrapy settings for one crawl of one source.

    ``source_settings`` (the entry's ``settings`` in the sources file) may set
    ``download_delay`` (e.g. 30 s for a site whose robots.txt asks for it) and
    ``concurrent_requests``; ``mirror`` sends every request to a mirror (see
    :mod:`crawler.middlewares`).
    """
    scrapy_settings = ScrapySettings()
    scrapy_settings.setdict(BASE_SETTINGS, priority="project")
    scrapy_settings.set("USER_AGENT", user_agent(settings), priority="project")
    scrapy_settings.set("FOERDERDESK_DATABASE_URL", settings.sqlalchemy_url, priority="project")
    scrapy_settings.set("FOERDERDESK_MIRROR", mirror or settings.crawl_mirror, priority="project")
    scrapy_settings.set("LOG_LEVEL", settings.log_level.upper(), priority="project")
    # What a spider keeps between runs (the Förderdatenbank export's ETag).
    scrapy_settings.set(
        "FOERDERDESK_STATE_DIR", str(settings.instance_path / "crawler"), priority="project"
    )
    source_settings = source_settings or {}
    if "download_delay" in source_settings:
        delay = float(source_settings["download_delay"])
        scrapy_settings.set("DOWNLOAD_DELAY", delay, priority="spider")
        scrapy_settings.set("AUTOTHROTTLE_START_DELAY", delay, priority="spider")
    if "concurrent_requests" in source_settings:
        scrapy_settings.set(
            "CONCURRENT_REQUESTS_PER_DOMAIN", int(source_settings["concurrent_requests"]), "spider"
        )
    if is_local_mirror(mirror or settings.crawl_mirror):
        # Politeness protects other people's servers; a snapshot served on this machine
        # (the demo, the tests, a benchmark) is ours, so it is read at full speed.
        scrapy_settings.set("DOWNLOAD_DELAY", 0, priority="cmdline")
        scrapy_settings.set("AUTOTHROTTLE_ENABLED", False, priority="cmdline")
        scrapy_settings.set("CONCURRENT_REQUESTS_PER_DOMAIN", 8, priority="cmdline")
    for key, value in (overrides or {}).items():
        scrapy_settings.set(key, value, priority="cmdline")
    return scrapy_settings
