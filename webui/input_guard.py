"""Input at the edge: what no route has to check for itself.

Every request passes here before its route: a NUL or other control character in the path, a
query parameter or a form field, or a query parameter longer than any route needs, is a 400
with a clear message (JSON under ``/api/``), never a database error. Numbers in URLs are
bounded by the ``int`` converter, so an id no column can hold is a plain 404. The routes'
own checks (allowed values, ranges of page numbers) stay with the routes.
"""

from __future__ import annotations

from flask import Flask, abort, request
from flask_babel import gettext as _
from werkzeug.routing import IntegerConverter

from storage.sanitize import CONTROL_IN_LINE, CONTROL_IN_TEXT

MAX_QUERY_VALUE = 1000  # characters in one query parameter: a search, a filter, a date
MAX_ID = 2**31 - 1  # the largest value an id column (INTEGER on PostgreSQL) holds


class BoundedIntegerConverter(IntegerConverter):
    """``<int:…>`` that matches only numbers an id column can hold (else: 404)."""

    def __init__(self, map, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def _refuse_bad_input() -> None:
    if CONTROL_IN_LINE.search(request.path):
        abort(400, description=_("The address contains a control character."))
    for name, value in request.args.items(multi=True):
        if CONTROL_IN_LINE.search(name) or CONTROL_IN_TEXT.search(value):
            abort(400, description=_("The parameter “%(name)s” contains a control character.",
                                     name=name[:40]))  # fmt: skip
        if len(value) > MAX_QUERY_VALUE:
            abort(400, description=_("The parameter “%(name)s” is longer than %(n)s characters.",
                                     name=name[:40], n=MAX_QUERY_VALUE))  # fmt: skip
    if request.method in ("POST", "PUT", "PATCH") and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        for name, value in request.form.items(multi=True):
            if CONTROL_IN_TEXT.search(value) or CONTROL_IN_LINE.search(name):
                abort(400, description=_("The field “%(name)s” contains a control character.",
                                         name=name[:40]))  # fmt: skip


def init_app(app: Flask) -> None:
    """Bound the URL numbers and check every request's parameters before its route runs."""
    app.url_map.converters["int"] = BoundedIntegerConverter
    app.before_request(_refuse_bad_input)
