"""``foerderdesk subscriptions add|list`` and ``foerderdesk digests send [--dry-run]``, with
mail going to a real SMTP server on loopback."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from storage.cli import main
from storage.links import unsign
from storage.models import Notification, Subscription, utcnow
from storage.subscriptions import confirm
from tests.scheduler.smtp_server import Recorder, free_port, smtp_server
from tests.storage.factories import make_call, make_profile

SECRET = "cli-test-secret"


def invoke(args: list[str], database_url: str, tmp_path: Path, port: int) -> Result:
    env = {
        "FOERDERDESK_SMTP_HOST": "127.0.0.1",
        "FOERDERDESK_SMTP_PORT": str(port),
        "FOERDERDESK_SMTP_TIMEOUT": "5",
        "FOERDERDESK_BASE_URL": "https://foerderdesk.example",
        "FOERDERDESK_SECRET_KEY": SECRET,
        "FOERDERDESK_MAIL_FROM": "foerderdesk@hannover.example",
    }
    return CliRunner(env=env).invoke(
        main,
        ["--instance", str(tmp_path / "instance"), "--database-url", database_url, *args],
        catch_exceptions=False,
    )


def _plain(mail: object) -> str:
    part = mail.get_body(("plain",))  # type: ignore[attr-defined]
    return str(part.get_content()).replace("\r\n", "\n")


def test_a_subscription_made_on_the_command_line_sends_only_its_confirmation_until_confirmed(
    engine: Engine,
    session: Session,
    database_url: str,
    tmp_path: Path,
    smtp: tuple[Recorder, int],
) -> None:
    recorder, port = smtp
    make_call(session, deadlines=[utcnow() + timedelta(days=30)], title="Klimaschutz vor Ort")
    session.commit()
    added = invoke(
        [
            "subscriptions",
            "add",
            "--email",
            "Anna@Example.org",
            "--search",
            "Klimaschutz",
            "--frequency",
            "daily",
        ],
        database_url,
        tmp_path,
        port,
    )
    assert added.exit_code == 0, added.output
    assert "waiting for confirmation" in added.output and "confirmation mail queued" in added.output

    sent = invoke(["digests", "send"], database_url, tmp_path, port)
    assert sent.exit_code == 0, sent.output
    assert "composed 0 digest(s)" in sent.output
    assert "sent 1, deferred 0, failed 0, suppressed 0" in sent.output
    [mail] = recorder.messages
    assert mail["To"] == "anna@example.org"
    assert mail["Subject"] == "Bitte bestätigen Sie Ihr Abonnement"
    text = _plain(mail)
    assert "neue Treffer Ihrer Suche „Klimaschutz“ per E-Mail erhalten möchten" in text
    token = re.search(r"/subscriptions/confirm/([\w.-]+)", text)
    subscription = session.scalar(select(Subscription))
    assert token and subscription is not None
    assert unsign(SECRET, "confirm", token.group(1)) == {"s": subscription.id}
    assert invoke(["digests", "send"], database_url, tmp_path, port).output.count("sent 0") == 1

    confirm(session, subscription.id)
    session.commit()
    sent = invoke(["digests", "send"], database_url, tmp_path, port)
    assert "composed 1 digest(s)" in sent.output and "sent 1," in sent.output
    assert recorder.messages[-1]["Subject"] == "1 neuer Förderaufruf zu Ihrer Suche „Klimaschutz“"


def test_subscriptions_add_confirmed_and_list(
    engine: Engine, session: Session, database_url: str, tmp_path: Path
) -> None:
    make_profile(session, "klima-linden", name="Klimaschutz in Linden")
    call = make_call(session, title="Städtepartnerschaften")
    session.commit()
    port = free_port()
    for args in (
        ["--profile", "klima-linden", "--language", "en", "--frequency", "weekly"],
        ["--call", str(call.id), "--frequency", "immediate"],
    ):
        result = invoke(
            ["subscriptions", "add", "--email", "desk@example.org", "--confirmed", *args],
            database_url,
            tmp_path,
            port,
        )
        assert result.exit_code == 0 and ": confirmed" in result.output, result.output
    assert session.scalar(select(func.count(Notification.id))) == 0  # no opt-in mail

    listed = invoke(["subscriptions", "list"], database_url, tmp_path, port).output
    assert re.search(r"desk@example.org\s+profile klima-linden\s+weekly\s+en\s+active", listed)
    assert re.search(rf"call {call.id} Städtepartnerschaften\s+immediate\s+de\s+active", listed)

    unknown = invoke(
        [
            "subscriptions",
            "add",
            "--email",
            "a@example.org",
            "--profile",
            "nope",
            "--frequency",
            "daily",
        ],
        database_url,
        tmp_path,
        port,
    )
    assert unknown.exit_code != 0 and "no active profile 'nope'" in unknown.output
    both = invoke(
        [
            "subscriptions",
            "add",
            "--email",
            "a@example.org",
            "--profile",
            "klima-linden",
            "--search",
            "x",
            "--frequency",
            "daily",
        ],
        database_url,
        tmp_path,
        port,
    )
    assert both.exit_code == 2 and "exactly one of" in both.output
    bad = invoke(
        [
            "subscriptions",
            "add",
            "--email",
            "not-an-address",
            "--search",
            "x",
            "--frequency",
            "daily",
        ],
        database_url,
        tmp_path,
        port,
    )
    assert bad.exit_code != 0 and "email" in bad.output


def test_a_dry_run_prints_what_would_go_out_and_stores_and_sends_nothing(
    engine: Engine,
    session: Session,
    database_url: str,
    tmp_path: Path,
    smtp: tuple[Recorder, int],
) -> None:
    make_call(session, deadlines=[utcnow() + timedelta(days=30)], title="Klimaschutz vor Ort")
    session.add(
        Subscription(
            email="anna@example.org",
            kind="search",
            query={"text": "Klimaschutz"},
            frequency="daily",
            confirmed_at=utcnow(),
        )
    )
    session.commit()
    result = invoke(["digests", "send", "--dry-run"], database_url, tmp_path, smtp[1])
    assert result.exit_code == 0, result.output
    assert "composed 1 digest(s), 0 change alert(s), 0 reminder(s) (dry run" in result.output
    assert "=== digest to anna@example.org: 1 neuer Förderaufruf" in result.output
    assert "1. Klimaschutz vor Ort" in result.output
    assert smtp[0].messages == []
    assert session.scalar(select(func.count(Notification.id))) == 0


def test_digests_send_exits_non_zero_only_when_a_message_failed_for_good(
    engine: Engine, session: Session, database_url: str, tmp_path: Path
) -> None:
    for email in ("gone@example.org", "anna@example.org"):
        subscription = Subscription(
            email=email, kind="search", frequency="daily", confirmed_at=utcnow()
        )
        session.add(subscription)
        session.flush()
        session.add(
            Notification(
                subscription_id=subscription.id,
                kind="digest",
                period="2026-12-03",
                recipient=email,
                subject="Neu",
                body_text="Hallo",
            )
        )
    session.commit()
    down = invoke(["digests", "send"], database_url, tmp_path, free_port())
    assert down.exit_code == 0 and "sent 0, deferred 2, failed 0" in down.output
    # Two tries behind it and due again: the next refusal is the third.
    session.execute(update(Notification).values(attempts=2, next_attempt_at=None))
    session.commit()
    with smtp_server(Recorder(refuse_rcpt="550 5.1.1 no such user")) as (_, port):
        refused = invoke(["digests", "send"], database_url, tmp_path, port)
    assert refused.exit_code == 1
    assert "sent 0, deferred 0, failed 2, suppressed 0" in refused.output
