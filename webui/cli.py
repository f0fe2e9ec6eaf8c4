"""Commands of the web app."""

from __future__ import annotations

import sys

import click

from storage.cli import get_settings
from storage.db import standalone_session
from storage.models import USER_ROLES, User
from storage.queries import user_by_email


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


def _password_hash(from_stdin: bool) -> str:
    """Read a new password (prompt, or one line of standard input) and return its hash."""
    from webui.auth import hash_password

    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        return hash_password(password)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def users() -> None:
    """People who log in: service desk, city staff, administrators."""


@users.command("create")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice(USER_ROLES),
    default="staff",
    show_default=True,
    help="admin: everything; desk: the service desk; staff: city departments.",
)
@click.option("--name", default="", help="Name shown in the app.")
@click.option("--department", default="", help="Fachbereich, for city staff.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def users_create(
    ctx: click.Context, email: str, role: str, name: str, department: str, password_stdin: bool
) -> None:
    """Create a user who logs in with EMAIL (the password is asked for, never an argument)."""
    if "@" not in email:
        raise click.BadParameter(f"{email!r} is not an email address", param_hint="EMAIL")
    password_hash = _password_hash(password_stdin)
    with standalone_session(get_settings(ctx)) as session:
        if user_by_email(session, email) is not None:
            raise click.ClickException(f"a user with email {email} exists already")
        session.add(
            User(email=email, name=name, role=role, department=department,
                 password_hash=password_hash)
        )  # fmt: skip
    click.echo(f"user {email} created with role {role}")


@users.command("password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def users_password(ctx: click.Context, email: str, password_stdin: bool) -> None:
    """Set a new password for the user with EMAIL."""
    password_hash = _password_hash(password_stdin)
    with standalone_session(get_settings(ctx)) as session:
        user = user_by_email(session, email)
        if user is None:
            raise click.ClickException(f"no user with email {email}")
        user.password_hash = password_hash
    click.echo(f"password of {email} changed")
