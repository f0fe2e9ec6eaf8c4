"""Where a ``next`` parameter may send a reader: only to a path on this site."""

from __future__ import annotations

from urllib.parse import urlsplit


def same_site_path(target: str | None, default: str) -> str:
    """``target`` if it is a path on this site, else ``default`` (no open redirect).

    Backslashes count as slashes, as browsers read them (``/\\evil.example`` is off-site).
    """
    if target and target.startswith("/"):
        normal = target.replace("\\", "/")
        parts = urlsplit(normal)
        if not normal.startswith("//") and not parts.scheme and not parts.netloc:
            return target
    return default
