"""The desk's profiles: city projects and partner organisations, created, edited, archived
and imported in the browser."""

from webui.projects.routes import bp

__all__ = ["bp"]
