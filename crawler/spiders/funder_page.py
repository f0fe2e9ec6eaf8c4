"""A generic spider for funders without a feed: one page listing calls, read with CSS selectors.

Each listed call becomes an item keyed by its link (or its title when it has none), so the
store's change tracking records a change whenever a call on the page changes, appears or
disappears. With a ``detail`` block configured, each call's own page is read as well.

Settings (``crawler/sources.yaml``), all selectors CSS, relative to the call's container;
a selector ending in ``::text`` or ``::attr(...)`` gives that value, any other the element's
text:
``url`` (the page), ``item`` (one element per call), ``title``, ``link``, ``deadline``,
``summary``, ``amount``, ``rate``, ``applicants`` (selector) or ``applicant_terms`` (fixed
list, e.g. Aktion Mensch: NGOs only), ``closed_markers`` (words meaning "expired"),
``default_deadline`` (e.g. ``laufend`` for foundations that fund any time), ``funder``,
``programme`` (default: each call's title), ``regions``, ``min_items`` (fewer calls than
this = the page changed shape), ``detail`` (``description``, ``conditions``, ``deadline``,
``amount``, ``rate``, ``applicants``: selectors on the call's own page).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urldefrag, urljoin

import scrapy
from parsel import Selector, SelectorList
from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.items import FundingCallItem
from crawler.normalize.dates import find_deadlines
from crawler.normalize.identifiers import short_identifier
from crawler.normalize.money import find_budget_phrase, find_grant_phrase
from crawler.normalize.text import html_to_text
from crawler.spiders import SourceSpider


class FunderPageSpider(SourceSpider):
    """Calls listed on one funder page, optionally with their detail pages."""

    name = "funder_page"

    def page_url(self) -> str:
        """The configured page (``settings.url``)."""
        url = str(self.config.get("url") or "")
        if not url:
            raise ValueError(f"{self.source}: the funder_page source needs settings.url")
        return url

    async def start(self) -> Any:
        """The configured page."""
        url = self.page_url()
        yield scrapy.Request(url, callback=self.parse, cb_kwargs={"page_url": url})

    def parse(self, response: Response, page_url: str = "", **_: Any) -> Iterator[Any]:
        """One item (or one detail request) per call container on the page."""
        page_url = page_url or response.url
        title = " ".join((response.css("title::text").get() or "").split())
        if re.search(r"captcha|access denied|attention required", title, re.IGNORECASE):
            raise CloseSpider(f"blocked: bot protection page ({title!r}) at {page_url}")
        containers = response.css(str(self.config.get("item") or "article"))
        minimum = int(self.config.get("min_items", 1))
        if len(containers) < minimum:
            raise CloseSpider(
                f"blocked: {self.config.get('item')!r} matched {len(containers)} calls at "
                f"{page_url}, expected at least {minimum} (page changed shape or was blocked)"
            )
        base = response.css("base::attr(href)").get() or page_url
        detail = self.config.get("detail") or {}
        for container in containers:
            item = self._item(container, base, page_url)
            if item is None:
                continue
            if detail and not item.url.startswith(page_url + "#"):
                yield scrapy.Request(
                    item.url,
                    callback=self.parse_detail,
                    errback=self.detail_failed,
                    cb_kwargs={"item": item},
                )
            else:
                yield item

    def _item(self, container: Selector, base: str, page_url: str) -> FundingCallItem | None:
        config = self.config
        title = _value(container, config.get("title") or "h2, h3")
        if not title:
            self.logger.warning("%s: call without title skipped", self.source)
            return None
        href = _value(container, config.get("link") or "a::attr(href)")
        # Calls listed without a page of their own get the page's address and a fragment.
        url = urljoin(base, href) if href else f"{page_url}#{_slug(title)}"
        text = " ".join(container.xpath("string()").get().split())
        deadline_text = _value(container, config.get("deadline"))
        closed = any(m.casefold() in text.casefold() for m in config.get("closed_markers") or [])
        terms = _values(container, config.get("applicants")) or list(
            config.get("applicant_terms") or []
        )
        return FundingCallItem(
            source=self.source,
            source_id=_source_id(url),
            url=url,
            title=title,
            summary=_value(container, config.get("summary")),
            description_html=container.get(),
            language=str(config.get("language") or ""),
            funder=str(config.get("funder") or ""),
            # A funder page lists its programmes: without a programme named for the whole
            # source, each call's title is its programme's name ("Kleinprojektefonds …").
            programme=str(config.get("programme") or title),
            call_identifier=short_identifier(url),
            status_source="closed" if closed else "",
            deadlines=self._deadlines(deadline_text, text),
            budget_raw=find_budget_phrase(_value(container, config.get("budget"))),
            grant_max_raw=_amount(_value(container, config.get("amount"))),
            funding_rate_raw=_value(container, config.get("rate")) or None,
            applicants_raw=terms,
            eligibility_text=text,
            regions=list(config.get("regions") or []),
            attribution=str(config.get("attribution") or ""),
        )

    def _deadlines(self, deadline_text: str, text: str) -> list[dict[str, Any]]:
        zone = str(self.config.get("timezone") or "Europe/Brussels")
        # A deadline element is a deadline by position; elsewhere a cue word must say so.
        found = find_deadlines(deadline_text, default_tz=zone, require_cue=False)
        if not found:
            found = find_deadlines(text, default_tz=zone)
        deadlines = [{"raw": d.raw, "stage": "", "label": "Frist"} for d in found]
        if not deadlines and self.config.get("default_deadline"):
            deadlines = [{"raw": str(self.config["default_deadline"]), "stage": "", "label": ""}]
        return deadlines

    def parse_detail(self, response: Response, item: FundingCallItem) -> Iterator[FundingCallItem]:
        """The call's own page completes the item from the list."""
        detail: dict[str, Any] = self.config.get("detail") or {}
        description = response.css(str(detail.get("description") or "main"))
        if description:
            item.description_html = description[0].get()
        conditions = response.css(str(detail["conditions"])) if detail.get("conditions") else []
        if conditions:
            item.conditions_html = conditions[0].get()
        text = html_to_text(f"{item.description_html}\n{item.conditions_html}")
        deadline_text = _value(response, detail.get("deadline"))
        if deadline_text or not item.deadlines:
            found = self._deadlines(deadline_text, text)
            item.deadlines = found or item.deadlines
        item.grant_max_raw = _amount(_value(response, detail.get("amount"))) or item.grant_max_raw
        item.funding_rate_raw = _value(response, detail.get("rate")) or item.funding_rate_raw
        item.applicants_raw = _values(response, detail.get("applicants")) or item.applicants_raw
        item.eligibility_text = text or item.eligibility_text
        yield item

    def detail_failed(self, failure: Failure) -> Iterator[FundingCallItem]:
        """A detail page that fails still leaves the call as the list shows it."""
        item = failure.request.cb_kwargs["item"]  # type: ignore[attr-defined]
        self.logger.warning("%s: detail page failed (%s); list data kept", item.url, failure.value)
        yield item


def _value(node: Selector | SelectorList[Any] | Response, selector: Any) -> str:
    values = _values(node, selector)
    return " ".join(values) if values else ""


def _values(node: Selector | SelectorList[Any] | Response, selector: Any) -> list[str]:
    if not selector:
        return []
    selector = str(selector)
    found = node.css(selector)
    if selector.endswith("::text") or "::attr(" in selector:
        raw = found.getall()
    else:
        raw = [element.xpath("string()").get() or "" for element in found]
    return [" ".join(value.split()) for value in raw if value and value.strip()]


def _amount(text: str) -> str | None:
    # "budget EUR 60 million; up to EUR 5 million per project": the grant is the "up to".
    # A text that names only a budget ("budget EUR 120 million") states no grant size.
    return find_grant_phrase(text) or (None if find_budget_phrase(text) else text or None)


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.casefold()).strip("-")[:80]


def _source_id(url: str) -> str:
    # The same call linked with tracking parameters or a trailing slash keeps its id.
    bare, fragment = urldefrag(url)
    bare = re.sub(r"[?&]utm_[^&]*", "", bare).rstrip("/")
    return f"{bare}#{fragment}" if fragment else bare
