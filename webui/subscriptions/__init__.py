"""Email subscriptions in the browser: subscribe (double opt-in), confirm, unsubscribe,
manage and erase, and "not relevant for me" from a digest. The mails themselves are only
stored in the outbox here; the scheduler sends them."""

from webui.subscriptions import link_routes  # noqa: F401  (registers the mails' pages on bp)
from webui.subscriptions.routes import bp

__all__ = ["bp"]
