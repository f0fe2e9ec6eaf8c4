"""The one form of the sources page: "crawl now", a button that carries the CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm


class CrawlNowForm(FlaskForm):
    """Queue a crawl of one source (admins only)."""
