"""The web app for a WSGI server: ``gunicorn -c deploy/gunicorn.conf.py webui.wsgi:app``.

Production runs several gunicorn worker processes behind a reverse proxy (README, "Running
it for a city"); each worker imports this module and builds its own app, so each has its own
database connections and its own search index. Settings come from the ``FOERDERDESK_*``
environment, as for every other command.

Behind a proxy every request arrives from the proxy's address. ``FOERDERDESK_PROXY_COUNT``
(the number of reverse proxies in front that set ``X-Forwarded-For``, ``-Proto`` and
``-Host``; default 0) makes the app trust that many hops of those headers through werkzeug's
``ProxyFix``, so the per-address login limit counts the reader and not the proxy, and
external links use the public scheme and host. It is read here and not in
``storage.config`` because it describes how this server is reached, which only this entry
point knows; without a proxy it must stay 0, or any client could name its own address.
waitress does this job itself when given ``--trusted-proxy`` (and drops the headers when
not), so under waitress it stays 0 too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from webui.app import create_app

PROXY_COUNT_VARIABLE = "FOERDERDESK_PROXY_COUNT"


def proxy_count(environ: Mapping[str, str] = os.environ) -> int:
    """How many reverse proxies in front are trusted to set ``X-Forwarded-*`` (0: none)."""
    raw = environ.get(PROXY_COUNT_VARIABLE, "").strip() or "0"
    try:
        count = int(raw)
    except ValueError:
        raise ValueError(f"{PROXY_COUNT_VARIABLE}={raw!r} is not a whole number") from None
    if count < 0:
        raise ValueError(f"{PROXY_COUNT_VARIABLE}={raw!r} is negative")
    return count


def build_app(environ: Mapping[str, str] = os.environ) -> Flask:
    """The app from the environment, behind ``ProxyFix`` when proxies are trusted."""
    app = create_app()
    hops = proxy_count(environ)
    if hops:
        # Flask's ``app.wsgi_app`` is the documented place for middleware: ``app`` stays the
        # Flask object (its config and extensions), only the request environ is corrected.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )
    return app


app = build_app()
