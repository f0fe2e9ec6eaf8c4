"""A match's stored explanation as the desk's pages show it, in the reader's language."""

from __future__ import annotations

from typing import Any

from matcher.reasons import ExplanationView, explanation_view
from webui.i18n import current_language


def explain(explanation: dict[str, Any] | None) -> ExplanationView:
    """``explanation`` (``Match.explanation``) for this request's reader: the reasons to
    apply (the matching words first) apart from the cautions."""
    return explanation_view(explanation or {}, current_language())
