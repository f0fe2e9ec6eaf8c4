"""The administrators' pages: people who log in, their roles, deactivating and reactivating."""

from webui.admin.routes import bp

__all__ = ["bp"]
