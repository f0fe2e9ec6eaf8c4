"""One spider per source kind; the module, the spider's ``name``, its tests and its fixtures
share the source's slug (``eu_funding_tenders`` ...). Generic spiders (``feed``,
``funder_page``) serve several sources configured in ``crawler/sources.yaml``.

How a spider is started (``python -m crawler SLUG``): the runner looks up the entry ``SLUG``
in the sources file and starts the spider named by its ``spider`` key with these arguments:
``source`` (the slug, to put into every item's ``source`` field) and ``config`` (the entry's
``settings`` mapping: URLs, selectors, filters), plus ``known`` (what the store knows of
each call's details pages, see :class:`SourceSpider`). Spiders only parse: they yield
:class:`crawler.items.FundingCallItem` and never touch the database. A spider that sees its
source blocked or broken (a CAPTCHA page answering 200, expected selectors missing) raises
``scrapy.exceptions.CloseSpider("blocked: <reason>")``; the run is then recorded as failed
and no call of that source is withdrawn.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import scrapy

from storage.call_details import KnownDetails


class SourceSpider(scrapy.Spider):
    """Base class: keeps the source slug and its configuration from the sources file, and
    what the store knows of each call's details (``known``: source_id -> KnownDetails,
    read by the runner before the crawl), so a spider can skip unchanged details pages."""

    def __init__(
        self,
        source: str = "",
        config: dict[str, Any] | None = None,
        known: Mapping[str, KnownDetails] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source or self.name
        self.config: dict[str, Any] = dict(config or {})
        self.known: dict[str, KnownDetails] = dict(known or {})
