"""A generic RSS/Atom spider, configured per funder in ``crawler/sources.yaml``.

First user: the fundsforNGOs WordPress feed, whose posts start with "Deadline: 5-Oct-23".
The feed is parsed with feedparser (RSS 0.9x/1.0/2.0 and Atom alike). Only the excerpt and
the link are kept unless ``full_text`` is set: aggregators such as fundsforNGOs allow excerpts
and links, not republication.

Settings: ``url`` (or ``urls``), ``include_keywords`` (keep an entry only if one of these
words is in its title, excerpt or categories; empty keeps all), ``exclude_keywords``,
``full_text`` (default false), ``funder``, ``max_entries``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import feedparser
import scrapy
from scrapy.exceptions import CloseSpider
from scrapy.http import Response

from crawler.items import FundingCallItem
from crawler.normalize.dates import find_deadlines
from crawler.normalize.money import find_budget_phrase, find_grant_phrase
from crawler.normalize.text import html_to_text
from crawler.spiders import SourceSpider

_CALL_ID = re.compile(r"\b[A-Z][A-Z0-9+]{1,15}-\d{4}-[A-Z0-9-]*[A-Z0-9]\b")
# Aggregator posts name the funder in their first sentence: "The European Urban Initiative
# is seeking proposals …", "The Dutch Council for Refugees (DCR) has launched …".
_NAME = r"[A-ZÄÖÜ][\w&'’.-]*"
_FUNDER_SENTENCE = re.compile(
    rf"(?:^|[.!?]\s+)(?:The\s+|Die\s+|Der\s+|Das\s+)?"
    rf"(?P<name>{_NAME}(?:\s+(?:{_NAME}|of|for|and|on|the|für|und|der|des))*?)"
    r"\s+(?:\([A-Z][\w&.-]{1,15}\)\s+)?(?:is|are|has|have|will|invites|welcomes|sucht|fördert)\s+"
    r"(?:now\s+)?(?:seeking|inviting|accepting|calling|launched|launching|announced|opened|"
    r"open(?:ing)?|offering|providing|Projekte|Anträge|Bewerbungen|applications|proposals)",
)
# "… the second Call for Proposals of EUI – Innovative Actions is …": the programme named.
_PROGRAMME = re.compile(
    rf"Call\s+for\s+(?:Proposals|Applications)\s+(?:of|under|for)\s+(?:the\s+)?"
    rf"(?P<name>{_NAME}(?:\s*[–-]\s*|\s+)(?:{_NAME}(?:\s+{_NAME}){{0,4}})?)",
)


class FeedSpider(SourceSpider):
    """One item per feed entry that passes the configured keyword filter."""

    name = "feed"

    def feed_urls(self) -> list[str]:
        """The configured feed URLs (``url`` and/or ``urls``)."""
        urls = list(self.config.get("urls") or [])
        if self.config.get("url"):
            urls.insert(0, self.config["url"])
        if not urls:
            raise ValueError(f"{self.source}: the feed source needs settings.url")
        return [str(u) for u in urls]

    async def start(self) -> Any:
        """One request per configured feed."""
        for url in self.feed_urls():
            yield scrapy.Request(url, callback=self.parse, cb_kwargs={"feed_url": url})

    def parse(self, response: Response, feed_url: str = "", **_: Any) -> Iterator[Any]:
        """Every entry of the feed as an item (after the keyword filter)."""
        feed = feedparser.parse(response.body)
        version = feed.get("version") or ""
        if not version and not feed.entries:
            # An HTML page (a CAPTCHA, a moved feed answering 200) is not a feed: fail loudly,
            # or the run would look like "0 calls" and withdraw every stored one.
            title = response.css("title::text").get() if _is_html(response) else None
            raise CloseSpider(
                f"blocked: {feed_url or response.url} is not an RSS/Atom feed "
                f"(HTTP {response.status}, {len(response.body)} bytes, title {title!r})"
            )
        # A feed's language is often the site's, not each entry's: "" lets the pipeline detect.
        language = _language(str(self.config.get("language") or ""))
        limit = int(self.config.get("max_entries", 500))
        for entry in feed.entries[:limit]:
            item = self._item(entry, language)
            if item is not None:
                yield item

    def _item(self, entry: Any, language: str) -> FundingCallItem | None:
        url = str(entry.get("link") or "").strip()
        title = html_to_text(str(entry.get("title") or ""))
        if not url or not title:
            self.logger.warning("feed entry without link or title skipped: %r", entry.get("id"))
            return None
        excerpt_html = str(entry.get("summary") or "")
        content_html = ""
        if entry.get("content"):
            content_html = "\n".join(str(part.get("value") or "") for part in entry["content"])
        full_html = content_html or excerpt_html
        text = html_to_text(full_html)
        excerpt = html_to_text(excerpt_html) or text[:600]
        categories = [str(tag.get("term")).strip() for tag in entry.get("tags") or []]
        if not self._wanted(" ".join([title, excerpt, *categories])):
            return None
        deadline_text = text if text else excerpt
        found = find_deadlines(
            deadline_text, default_tz=self.config.get("timezone", "Europe/Brussels")
        )
        dated = [d for d in found if not d.rolling]
        deadlines = [{"raw": d.raw, "stage": "", "label": "Deadline"} for d in (dated or found)]
        keep_full = bool(self.config.get("full_text", False))
        call_id = _CALL_ID.search(f"{title} {text}")
        prose = _strip_deadline_prefix(text or excerpt)
        return FundingCallItem(
            source=self.source,
            source_id=str(entry.get("id") or url),
            url=url,
            title=title,
            summary=_strip_deadline_prefix(excerpt),
            description_html=full_html if keep_full else excerpt_html,
            language=language,
            funder=str(self.config.get("funder") or "") or funder_named(prose),
            programme=str(self.config.get("programme") or "") or programme_named(prose, title),
            call_identifier=call_id.group(0) if call_id else "",
            deadlines=deadlines,
            budget_raw=find_budget_phrase(text),
            grant_max_raw=find_grant_phrase(text),
            eligibility_text=text,
            keywords=categories,
            attribution=str(self.config.get("attribution") or ""),
        )

    def _wanted(self, text: str) -> bool:
        folded = text.casefold()
        include = [str(k).casefold() for k in self.config.get("include_keywords") or []]
        exclude = [str(k).casefold() for k in self.config.get("exclude_keywords") or []]
        if any(word in folded for word in exclude):
            return False
        return not include or any(word in folded for word in include)


def funder_named(text: str) -> str:
    """The funder an aggregator's post names in a sentence like "The European Urban
    Initiative is seeking proposals", or ``""``."""
    found = _FUNDER_SENTENCE.search(text[:600])
    return " ".join(found.group("name").split()) if found else ""


def programme_named(text: str, title: str) -> str:
    """The programme a post names ("Call for Proposals of EUI – Innovative Actions"), else
    the post's title, which names the call or fund."""
    found = _PROGRAMME.search(f"{title}. {text[:1000]}")
    if found:
        return " ".join(found.group("name").split()).rstrip(" –-")
    return title


def _is_html(response: Response) -> bool:
    return b"<html" in response.body[:2000].lower()


def _language(code: str) -> str:
    code = code.strip().lower()[:2]
    return code if code in ("de", "en") else ""


def _strip_deadline_prefix(excerpt: str) -> str:
    # WordPress excerpts repeat the body's first line, "Deadline: 5-Oct-23", before the text.
    return re.sub(r"^\s*Deadline:\s*\S+\s*", "", excerpt).strip()
