"""Commands of the web app."""

from __future__ import annotations

import sys
from datetime import datetime

import click
from sqlalchemy.orm import Session

from storage.cli import get_settings
from storage.db import standalone_session
from storage.models import USER_ROLES, User
from storage.queries import user_by_email
from storage.users import (
    UserError,
    create_api_token,
    create_user,
    list_users,
    revoke_api_tokens,
    set_password,
)


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
        try:
            create_user(session, email, password_hash=password_hash, role=role, name=name,
                        department=department)  # fmt: skip
        except UserError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"user {email} created with role {role}")


@users.command("password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def users_password(ctx: click.Context, email: str, password_stdin: bool) -> None:
    """Set a new password for the user with EMAIL (and sign them out everywhere)."""
    password_hash = _password_hash(password_stdin)
    with standalone_session(get_settings(ctx)) as session:
        user = user_by_email(session, email)
        if user is None:
            raise click.ClickException(f"no user with email {email}")
        set_password(session, user, password_hash)
    click.echo(f"password of {email} changed; their sessions are ended")


def _existing_user(session: Session, email: str) -> User:
    user = user_by_email(session, email)
    if user is None:
        raise click.ClickException(f"no user with email {email}")
    return user


@users.command("token")
@click.argument("email")
@click.option("--revoke", is_flag=True, help="Revoke every API token of the user instead.")
@click.pass_context
def users_token(ctx: click.Context, email: str, revoke: bool) -> None:
    """Make an API token for the user with EMAIL, printed as the last line (shown only once);
    with --revoke, revoke all of theirs."""
    with standalone_session(get_settings(ctx)) as session:
        user = _existing_user(session, email)
        if revoke:
            revoked = revoke_api_tokens(session, user)
        else:
            try:
                secret = create_api_token(session, user)
            except UserError as exc:
                raise click.ClickException(str(exc)) from None
    # Printed once the transaction is committed, so a token shown is a token that works.
    if revoke:
        click.echo(f"revoked {revoked} API token(s) of {email}")
        return
    click.echo(
        f"API token for {email} (role {user.role}), for 'Authorization: Bearer …'. "
        "It is shown only this once and stored hashed; keep it secret:"
    )
    click.echo(secret)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


@users.command("list")
@click.pass_context
def users_list(ctx: click.Context) -> None:
    """Every user: email, role, department, active, last login (active users first)."""
    with standalone_session(get_settings(ctx)) as session:
        rows = [
            (u.email, u.role, u.department or "-", "yes" if u.active else "no",
             _when(u.last_login_at))
            for u in list_users(session)
        ]  # fmt: skip
    header = ("EMAIL", "ROLE", "DEPARTMENT", "ACTIVE", "LAST LOGIN")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
