"""The deadline calendar of pursued calls: a month view and a personal .ics feed."""

from webui.calendar.routes import bp

__all__ = ["bp"]
