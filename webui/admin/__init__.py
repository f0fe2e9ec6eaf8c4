"""The administrators' pages: people who log in, their roles, deactivating and reactivating;
the mail that does not go out, and lifting a suppressed address."""

from webui.admin.routes import bp

__all__ = ["bp"]
