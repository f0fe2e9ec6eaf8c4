"""Public search: find, read and take away calls, without an account."""

from webui.search.routes import bp

__all__ = ["bp"]
