"""What stored text may hold. The one HTML allow-list: crawled HTML is cleaned with it before
it is stored and again before it is shown, so a page can never carry script, style or event
handlers to a reader. And the control characters no input may carry: NUL cannot be stored on
PostgreSQL at all, and the others mean nothing in a name, a search or a form."""

from __future__ import annotations

import re

import nh3

# C0 controls, DEL and halves of surrogate pairs, in a one-line text...
CONTROL_IN_LINE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
# ...and in a text that may span lines (tab, line feed and carriage return allowed).
CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

ALLOWED_TAGS = {
    "p", "br", "ul", "ol", "li", "strong", "b", "em", "i", "u", "sup", "sub", "a", "abbr",
    "h2", "h3", "h4", "h5", "h6", "table", "caption", "thead", "tbody", "tfoot", "tr", "th",
    "td", "blockquote", "span", "div", "dl", "dt", "dd", "hr",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "td": {"colspan", "rowspan"}}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}


def sanitize_html(html: str | None) -> str:
    """``html`` with only allow-listed tags and attributes; links get ``rel="noopener..."``."""
    if not html:
        return ""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
