"""Commands of the web app."""

from __future__ import annotations

import click

from storage.cli import get_settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=int)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, threads: int) -> None:
    """Serve the web app with waitress (a production WSGI server)."""
    from waitress import serve as waitress_serve

    from webui.app import create_app

    app = create_app(get_settings(ctx))
    click.echo(f"foerderdesk serving on http://{host}:{port}/ (Ctrl+C to stop)")
    waitress_serve(app, host=host, port=port, threads=threads)
