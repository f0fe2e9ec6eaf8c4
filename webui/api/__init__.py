"""The JSON API, version 1: the public calls (read-only, no account), the desk API for the
city's own tools (``Authorization: Bearer``), their OpenAPI document and its page for people."""

from webui.api import desk
from webui.api.routes import bp

bp.register_blueprint(desk.bp)

__all__ = ["bp"]
