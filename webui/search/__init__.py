"""Public search: find, read and take away calls, without an account."""

from webui.search import export_routes  # noqa: F401  (registers the downloads on bp)
from webui.search.routes import bp

__all__ = ["bp"]
