"""The service desk's working pages: dashboard, profiles, calls, matches and their reviews."""

from webui.desk.routes import bp

__all__ = ["bp"]
