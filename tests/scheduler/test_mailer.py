"""Sending the outbox over real SMTP (aiosmtpd on loopback): each message once, failures
deferred with back-off, permanent refusals failed for good and the address suppressed."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from scheduler.mailer import SendReport, lease_for, send_outbox
from storage.config import Settings
from storage.db import make_engine, make_session_factory
from storage.models import Notification, Subscription, utcnow
from storage.outbox import (
    claim_due,
    enqueue,
    failed_messages,
    is_suppressed,
    outbox_counts,
    retry_delay,
)
from tests.scheduler.smtp_server import Recorder, free_port, smtp_server

UNSUBSCRIBE = "https://foerderdesk.example/subscriptions/unsubscribe/eyJzIjoxfQ.abc.def"


def _outbox(factory: sessionmaker[Session], *emails: str, each: int = 1) -> list[int]:
    """One confirmed subscription per address with ``each`` pending messages; their ids."""
    ids: list[int] = []
    with factory() as session:
        for email in emails:
            subscription = Subscription(
                email=email, kind="search", frequency="daily", confirmed_at=utcnow()
            )
            session.add(subscription)
            session.flush()
            for n in range(each):
                message = enqueue(
                    session,
                    subscription,
                    kind="digest",
                    period=f"2026-12-{n + 1:02d}",
                    subject=f"Neue Förderaufrufe {n}",
                    body_text=f"Hallo {email} – {n}",
                    body_html=f"<p>Hallo {email} – {n}</p>",
                    unsubscribe_url=UNSUBSCRIBE,
                )
                assert message is not None
                ids.append(message.id)
        session.commit()
    return ids


def _rows(factory: sessionmaker[Session]) -> list[Notification]:
    with factory() as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


def test_a_message_goes_out_as_text_and_html_with_one_click_unsubscribe_headers(
    factory: sessionmaker[Session], mail_settings: Settings, smtp: tuple[Recorder, int]
) -> None:
    _outbox(factory, "anna@example.org")
    assert send_outbox(factory, mail_settings) == SendReport(sent=1)
    recorder = smtp[0]
    assert recorder.envelopes == [("foerderdesk@hannover.example", ["anna@example.org"])]
    mail = recorder.messages[0]
    assert mail["From"] == "foerderdesk@hannover.example" and mail["To"] == "anna@example.org"
    assert mail["Subject"] == "Neue Förderaufrufe 0"
    assert mail["Date"] and mail["Message-ID"].endswith("@hannover.example>")
    assert mail["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail.get_content_type() == "multipart/alternative"
    text, html = (part.get_content() for part in mail.iter_parts())
    assert "Hallo anna@example.org – 0" in text and html.startswith("<p>Hallo")
    [row] = _rows(factory)
    assert (row.state, row.attempts, row.next_attempt_at, row.last_error) == ("sent", 1, None, None)
    assert row.sent_at is not None


def test_two_runs_in_a_row_send_nothing_twice(
    factory: sessionmaker[Session], mail_settings: Settings, smtp: tuple[Recorder, int]
) -> None:
    _outbox(factory, "anna@example.org", "ben@example.org", each=3)
    assert send_outbox(factory, mail_settings, batch_size=4).sent == 6
    assert send_outbox(factory, mail_settings) == SendReport()
    assert len(smtp[0].messages) == 6
    assert sorted(len(smtp[0].to(a)) for a in ("anna@example.org", "ben@example.org")) == [3, 3]


def test_two_senders_at_once_send_each_message_exactly_once(
    database_url: str,
    factory: sessionmaker[Session],
    mail_settings: Settings,
    smtp: tuple[Recorder, int],
) -> None:
    ids = _outbox(factory, *(f"person{i}@example.org" for i in range(40)), each=3)
    reports: list[SendReport] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def sender() -> None:
        engine = make_engine(database_url)  # a process of its own would have its own engine
        try:
            start.wait()
            reports.append(send_outbox(make_session_factory(engine), mail_settings, batch_size=5))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert sum(r.sent for r in reports) == len(ids) and all(r.sent for r in reports)
    message_ids = [m["Message-ID"] for m in smtp[0].messages]
    assert len(message_ids) == len(set(message_ids)) == len(ids)
    assert {r.state for r in _rows(factory)} == {"sent"}


def test_with_the_server_down_nothing_is_lost_and_a_later_run_delivers_each_once(
    factory: sessionmaker[Session], mail_settings: Settings
) -> None:
    _outbox(factory, "anna@example.org", "ben@example.org", each=2)
    down = replace(mail_settings, smtp_port=free_port())  # nobody listens there
    now = utcnow()
    assert send_outbox(factory, down, now=now, batch_size=3) == SendReport(deferred=3)
    rows = _rows(factory)
    assert [r.state for r in rows] == ["pending"] * 4
    assert [r.attempts for r in rows] == [1, 1, 1, 0]  # the run stopped at the first batch
    assert all("cannot reach" in (r.last_error or "") for r in rows[:3])
    assert rows[0].next_attempt_at == now + timedelta(minutes=5)

    with smtp_server() as (recorder, port):
        up = replace(mail_settings, smtp_port=port)
        assert send_outbox(factory, up, now=now + timedelta(minutes=1)) == SendReport(sent=1)
        assert send_outbox(factory, up, now=now + timedelta(minutes=5)) == SendReport(sent=3)
        assert send_outbox(factory, up, now=now + timedelta(hours=1)) == SendReport()
    assert sorted(str(m["Subject"])[-1] for m in recorder.messages) == ["0", "0", "1", "1"]
    assert {r.state for r in _rows(factory)} == {"sent"}


def test_a_temporary_refusal_defers_with_a_back_off_that_grows(
    factory: sessionmaker[Session], mail_settings: Settings
) -> None:
    _outbox(factory, "anna@example.org")
    now = utcnow()
    with smtp_server(Recorder(refuse_rcpt="451 4.7.1 Greylisted, try again later")) as (_, port):
        busy = replace(mail_settings, smtp_port=port)
        waits = []
        for _ in range(4):
            assert send_outbox(factory, busy, now=now) == SendReport(deferred=1)
            [row] = _rows(factory)
            waits.append(row.next_attempt_at - now)
            now = row.next_attempt_at
    assert waits == [timedelta(minutes=m) for m in (5, 10, 20, 40)]
    assert row.state == "pending" and row.attempts == 4 and "451" in (row.last_error or "")
    assert [retry_delay(n) for n in (1, 2, 7, 8, 30)] == [
        timedelta(minutes=5),
        timedelta(minutes=10),
        timedelta(minutes=320),
        timedelta(hours=6),
        timedelta(hours=6),
    ]


def test_a_permanent_refusal_three_times_fails_for_good_and_suppresses_the_address(
    factory: sessionmaker[Session], mail_settings: Settings
) -> None:
    _outbox(factory, "gone@example.org", "anna@example.org")
    now = utcnow()
    refusing = Recorder(refuse_data="550 5.1.1 <gone@example.org>: no such user")
    with smtp_server(refusing) as (_, port):
        bouncing = replace(mail_settings, smtp_port=port)
        first = send_outbox(factory, bouncing, now=now, limit=1)
        second = send_outbox(factory, bouncing, now=now + timedelta(minutes=5), limit=1)
        third = send_outbox(factory, bouncing, now=now + timedelta(minutes=15), limit=1)
    assert (first, second, third) == (
        SendReport(deferred=1),
        SendReport(deferred=1),
        SendReport(failed=1),
    )
    with factory() as session:
        assert is_suppressed(session, "GONE@example.org")
        [failed] = failed_messages(session)
        assert failed.recipient == "gone@example.org" and "550" in (failed.last_error or "")
        assert outbox_counts(session) == {
            "pending": 1,
            "deferred": 0,
            "sent": 0,
            "failed": 1,
            "suppressed": 0,
        }
        # A message stored for the address before it was suppressed is never sent.
        gone = session.scalar(select(Subscription).where(Subscription.email == "gone@example.org"))
        assert gone is not None
        late = Notification(
            subscription_id=gone.id,
            kind="digest",
            period="late",
            recipient=gone.email,
            subject="s",
            body_text="t",
        )
        session.add(late)
        session.commit()
    with smtp_server() as (recorder, port):
        report = send_outbox(factory, replace(mail_settings, smtp_port=port), now=now)
    assert report == SendReport(sent=1, suppressed=1)
    assert [m["To"] for m in recorder.messages] == ["anna@example.org"]


def test_nothing_goes_out_after_an_unsubscribe_or_before_a_confirmation(
    factory: sessionmaker[Session], mail_settings: Settings, smtp: tuple[Recorder, int]
) -> None:
    _outbox(factory, "left@example.org", "new@example.org")
    with factory() as session:
        left, new = session.scalars(select(Subscription).order_by(Subscription.id)).all()
        left.unsubscribed_at = utcnow()
        new.confirmed_at = None
        enqueue(
            session,
            new,
            kind="confirm",
            period="opt-in",
            subject="Bitte bestätigen",
            body_text="Link",
        )
        session.commit()
    assert send_outbox(factory, mail_settings) == SendReport(sent=1, suppressed=2)
    assert smtp[0].subjects() == ["Bitte bestätigen"]
    assert [r.last_error for r in _rows(factory) if r.state == "suppressed"] == [
        "unsubscribed before it was sent",
        "the subscription is not confirmed",
    ]


def test_a_sender_that_dies_after_its_claim_leaves_the_message_to_the_next_run(
    engine: Engine,
    factory: sessionmaker[Session],
    mail_settings: Settings,
    smtp: tuple[Recorder, int],
) -> None:
    _outbox(factory, "anna@example.org")
    now = utcnow()
    lease = lease_for(mail_settings)
    with factory() as session:  # claimed and committed, then the process is gone
        assert len(claim_due(session, now, limit=10, lease=lease)) == 1
        session.commit()
    assert (
        send_outbox(factory, mail_settings, now=now + lease - timedelta(seconds=1)) == SendReport()
    )
    assert send_outbox(factory, mail_settings, now=now + lease) == SendReport(sent=1)
    assert len(smtp[0].messages) == 1


def test_a_server_closing_the_connection_defers_the_rest_of_the_batch(
    factory: sessionmaker[Session], mail_settings: Settings
) -> None:
    _outbox(factory, "anna@example.org", each=3)
    with smtp_server(Recorder(refuse_data="421 4.3.2 Shutting down")) as (_, port):
        report = send_outbox(factory, replace(mail_settings, smtp_port=port))
    assert report == SendReport(deferred=3)
    assert {(r.state, r.attempts) for r in _rows(factory)} == {("pending", 1)}


def test_a_message_that_cannot_become_an_email_fails_alone_and_blocks_nothing(
    factory: sessionmaker[Session], mail_settings: Settings, smtp: tuple[Recorder, int]
) -> None:
    _outbox(factory, "anna@example.org", each=2)
    with factory() as session:
        broken = session.get(Notification, 1)
        assert broken is not None
        broken.subject = "Neue Förderaufrufe\nBcc: everyone@example.org"
        session.commit()
    assert send_outbox(factory, mail_settings) == SendReport(sent=1, failed=1)
    assert [str(m["Subject"]) for m in smtp[0].messages] == ["Neue Förderaufrufe 1"]
    with factory() as session:
        assert not is_suppressed(session, "anna@example.org")
        [failed] = failed_messages(session)
        assert "cannot build the message" in (failed.last_error or "")


def test_several_workers_share_the_outbox_and_stop_at_the_limit(
    factory: sessionmaker[Session], mail_settings: Settings, smtp: tuple[Recorder, int]
) -> None:
    ids = _outbox(factory, *(f"p{i}@example.org" for i in range(30)), each=2)
    first = send_outbox(factory, mail_settings, batch_size=4, workers=4, limit=25)
    assert first == SendReport(sent=25)
    rest = send_outbox(factory, mail_settings, batch_size=4, workers=4)
    assert rest == SendReport(sent=len(ids) - 25)
    message_ids = [m["Message-ID"] for m in smtp[0].messages]
    assert len(message_ids) == len(set(message_ids)) == len(ids)
