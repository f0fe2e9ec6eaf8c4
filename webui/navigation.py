"""The site's main navigation: which areas a signed-in person sees, by role.

One table instead of conditions spread over the base template; an area appears only once its
blueprint is registered, so the layout never links to a page the app does not serve.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user


@dataclass(frozen=True)
class NavLink:
    endpoint: str
    label: object  # a lazy string, translated when shown
    roles: tuple[str, ...]


DESK_LINKS = (
    NavLink("desk.dashboard", _l("Desk"), ("admin", "desk", "staff")),
    NavLink("projects.index", _l("Projects and partners"), ("admin", "desk")),
    NavLink("calendar.month", _l("Calendar"), ("admin", "desk", "staff")),
    NavLink("sources.index", _l("Sources"), ("admin", "desk", "staff")),
    NavLink("admin.users", _l("Users"), ("admin",)),
    NavLink("admin.mail", _l("Mail"), ("admin",)),
)


def desk_links() -> list[tuple[NavLink, bool]]:
    """The signed-in user's links, each with whether it is the current area: the link to
    this very page, else the first link into this page's blueprint (one area, such as
    admin, may have several links, and only one of them is current)."""
    if not current_user.is_authenticated:
        return []
    served = current_app.view_functions
    links = [
        link for link in DESK_LINKS if link.endpoint in served and current_user.role in link.roles
    ]
    endpoint = request.endpoint or ""
    here = endpoint.split(".")[0]
    current = next((link for link in links if link.endpoint == endpoint), None) or next(
        (link for link in links if link.endpoint.split(".")[0] == here), None
    )
    return [(link, link is current) for link in links]


def init_app(app: Flask) -> None:
    app.context_processor(lambda: {"desk_links": desk_links})
