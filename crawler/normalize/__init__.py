"""Pure functions that turn the sources' raw text into the stored vocabulary.

Dates, money, applicant types, language and HTML are normalised here and nowhere else, so
every spider and the pipeline agree. Functions raise :class:`NormalizationError` (a
``ValueError``) on input they cannot read, and nothing else.
"""

from __future__ import annotations


class NormalizationError(ValueError):
    """Raised when a raw value (a date, an amount, ...) cannot be understood."""


__all__ = ["NormalizationError"]
