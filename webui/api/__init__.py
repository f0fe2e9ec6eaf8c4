"""The public JSON API, version 1 (read-only, no account): its routes, its OpenAPI document
and its page for people."""

from webui.api.routes import bp

__all__ = ["bp"]
