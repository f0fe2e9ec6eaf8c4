"""The old addresses of the desk's lists (``/profiles/…``), kept as redirects to the desk.

The ranked list of a profile's calls moved to ``desk.profile``; editing profiles lives at
``/projects/``. Bookmarks and links in old emails still arrive.
"""

from __future__ import annotations

from flask import Blueprint, redirect, url_for

bp = Blueprint("profiles", __name__, url_prefix="/profiles")


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    return redirect(url_for("desk.profiles"))


@bp.get("/<slug>")
def show(slug: str):  # type: ignore[no-untyped-def]
    return redirect(url_for("desk.profile", slug=slug))
