"""The calendar's forms: buttons that make or revoke the feed address (CSRF only)."""

from __future__ import annotations

from flask_wtf import FlaskForm


class FeedForm(FlaskForm):
    """Make a new feed address (replacing the old one) or revoke it."""
