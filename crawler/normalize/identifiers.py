"""Short identifiers for calls whose source has no identifier of its own but an address.

A call page shows an identifier a person can quote on the phone ("kleinprojektefonds",
"inklusionsprojekte", "100001"), never a URL: the source's own id where the address carries
one (a WordPress post id, a fragment naming one offer on a shared page), else the slug at the
end of the path.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlsplit

IDENTIFIER_LENGTH = 80
_ID_PARAMETERS = ("p", "id", "page_id", "post", "nid", "call", "callid")
_DROPPED_SUFFIX = re.compile(r"\.(?:html?|php|aspx?|jsp)$", re.IGNORECASE)
_INDEX_NAMES = {"index", "default", "home", ""}


def is_url(value: str) -> bool:
    """True for an absolute http(s) address."""
    return bool(re.match(r"https?://", value or "", re.IGNORECASE))


def short_identifier(source_id: str) -> str:
    """A stable short id for a call known by ``source_id``.

    An id that is not an address is the source's own and stays as it is
    ("HORIZON-CL6-2026-01", "EuropeAid/186246/DD/ACT/NG"). Of an address: its fragment
    ("…/foerderfinder#inklusionsprojekte" → "inklusionsprojekte"), else an id parameter
    ("…/?p=100001" → "100001"), else its last path segment without the file suffix
    ("…/kleinprojektefonds.html" → "kleinprojektefonds"), else the host.
    """
    source_id = (source_id or "").strip()
    if not is_url(source_id):
        return source_id
    parts = urlsplit(source_id)
    if parts.fragment:
        return _slug(unquote(parts.fragment))
    query = parse_qs(parts.query)
    for name in _ID_PARAMETERS:
        values = query.get(name)
        if values and values[0].strip():
            return _slug(values[0])
    segments = [s for s in unquote(parts.path).split("/") if s]
    while segments:
        segment = _DROPPED_SUFFIX.sub("", segments.pop())
        if segment.casefold() not in _INDEX_NAMES:
            return _slug(segment)
    return parts.hostname or source_id[:IDENTIFIER_LENGTH]


def _slug(text: str) -> str:
    slug = re.sub(r"[^\w]+", "-", text.casefold()).strip("-")
    if len(slug) <= IDENTIFIER_LENGTH:
        return slug
    return slug[:IDENTIFIER_LENGTH].rsplit("-", 1)[0]
