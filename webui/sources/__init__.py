"""The sources page: every crawled source, its recent runs, freshness and next run."""

from webui.sources.routes import bp

__all__ = ["bp"]
