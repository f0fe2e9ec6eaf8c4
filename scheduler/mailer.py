"""Sending the outbox over SMTP, each message once.

A run claims a batch of due messages (``storage.outbox.claim_due``: one UPDATE that counts an
attempt and leases them, committed before anything is sent, so a second sender at the same
time takes other messages), opens one SMTP connection for the batch and sends them one by
one, committing each outcome at once:

- accepted → ``sent``;
- a temporary failure (connection refused, time-out, 4xx) → deferred with back-off
  (5 minutes doubling, at most 6 hours: ``storage.outbox.retry_delay``), never dropped;
- a permanent refusal (5xx) → deferred too until the third try, then ``failed`` for good and
  the address suppressed (shown on the admin page: ``storage.outbox.failed_messages``).

The one duplicate no design avoids: a sender that dies after the server accepted a message
and before its ``sent`` was committed. Its lease runs out and the next run sends it again.
Committing after every message keeps that window to one message, and the Message-ID is the
same each time, so a mail client can tell the copy for what it is.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from functools import cache

from sqlalchemy.orm import Session, sessionmaker

from storage.config import Settings
from storage.models import Notification, utcnow
from storage.outbox import (
    MAX_ATTEMPTS,
    claim_due,
    hold_back,
    mark_deferred,
    mark_failed,
    mark_sent,
    release,
)

log = logging.getLogger(__name__)

BATCH = 50  # messages per claim and per SMTP connection
WORKERS = 4  # senders side by side in `foerderdesk digests send` (connections to the server)
# Headers may be 998 characters long (RFC 5322): a long List-Unsubscribe address must stay
# one unencoded line, or mail clients cannot read it.
MAIL_POLICY = policy.SMTP.clone(max_line_length=998)
Connect = Callable[[Settings], smtplib.SMTP]


@dataclass
class SendReport:
    """What one run of the sender did with the messages it claimed."""

    sent: int = 0
    deferred: int = 0
    failed: int = 0
    suppressed: int = 0

    def __str__(self) -> str:
        return (
            f"sent {self.sent}, deferred {self.deferred}, failed {self.failed}, "
            f"suppressed {self.suppressed}"
        )


class _ConnectionLost(Exception):
    """The server went away in the middle of a batch: stop this run."""


def lease_for(settings: Settings) -> timedelta:
    """How long a claim keeps other senders off a message: long enough for a batch even
    when every SMTP step waits for its time-out."""
    return max(timedelta(minutes=10), timedelta(seconds=settings.smtp_timeout * 20))


@cache
def _local_hostname() -> str:
    # Resolved once per process: getfqdn() may wait for DNS, and every connection asks.
    return socket.getfqdn()


def connect(settings: Settings) -> smtplib.SMTP:
    """An SMTP connection as the settings say: STARTTLS and login where configured."""
    smtp = smtplib.SMTP(
        settings.smtp_host,
        settings.smtp_port,
        timeout=settings.smtp_timeout,
        local_hostname=_local_hostname(),
    )
    try:
        smtp.ehlo()
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def build_message(message: Notification, settings: Settings, now: datetime) -> EmailMessage:
    """The email of an outbox row: text and HTML as alternatives, one-click unsubscribe
    headers (RFC 8058), marked as automatic (RFC 3834) so that auto-replies stay quiet."""
    mail = EmailMessage(policy=MAIL_POLICY)
    domain = settings.mail_from.rpartition("@")[2] or "localhost"
    mail["From"] = settings.mail_from
    mail["To"] = message.recipient
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(now)
    # The same id every time the row is sent: a copy after a crash is recognisably one.
    mail["Message-ID"] = f"<{message.id}.{message.created_at:%Y%m%d%H%M%S}.foerderdesk@{domain}>"
    mail["Auto-Submitted"] = "auto-generated"
    if message.unsubscribe_url:
        mail["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
        mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail.set_content(message.body_text, cte="quoted-printable")
    if message.body_html:
        mail.add_alternative(message.body_html, subtype="html", cte="quoted-printable")
    return mail


def _refusal(exc: smtplib.SMTPException) -> tuple[int, str]:
    """The SMTP code and text of a refusal of one message (0: no code)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()), (0, b""))
    else:
        code, text = getattr(exc, "smtp_code", 0), getattr(exc, "smtp_error", b"")
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return int(code or 0), f"{code} {text}".strip()


def _deliver(
    smtp: smtplib.SMTP,
    session: Session,
    message: Notification,
    settings: Settings,
    now: datetime,
    report: SendReport,
) -> None:
    """Send one claimed message and record what happened (the caller commits)."""
    try:
        mail = build_message(message, settings, now)
    except (ValueError, TypeError) as exc:
        # The row itself cannot become an email (a broken header): no retry will help, and
        # the address is not to blame. Failing it keeps it from blocking every later run.
        mark_failed(session, message, f"cannot build the message: {exc}", suppress_address=False)
        report.failed += 1
        log.error("message %s cannot be built: %s", message.id, exc)
        return
    try:
        smtp.send_message(mail, from_addr=settings.mail_from, to_addrs=[message.recipient])
    except smtplib.SMTPServerDisconnected as exc:
        mark_deferred(session, message, now, f"connection lost: {exc}")
        report.deferred += 1
        raise _ConnectionLost from exc
    except smtplib.SMTPSenderRefused as exc:
        # Our own sender address refused: a configuration problem, not the recipient's.
        mark_deferred(session, message, now, _refusal(exc)[1])
        report.deferred += 1
    except smtplib.SMTPException as exc:  # before OSError: SMTPException is one
        code, error = _refusal(exc)
        if code == 421:  # the server is closing the connection
            mark_deferred(session, message, now, error)
            report.deferred += 1
            raise _ConnectionLost from exc
        if code >= 500 and message.attempts >= MAX_ATTEMPTS:
            mark_failed(session, message, error)
            report.failed += 1
            log.warning(
                "message %s to %s failed for good: %s", message.id, message.recipient, error
            )
        else:
            mark_deferred(session, message, now, error)
            report.deferred += 1
    except OSError as exc:  # reset, time-out: the connection is gone
        mark_deferred(session, message, now, f"connection lost: {exc}")
        report.deferred += 1
        raise _ConnectionLost from exc
    else:
        mark_sent(session, message, now)
        report.sent += 1


class _Run:
    """What the workers of one sending run share: the budget of messages left under
    ``limit``, and the signal to stop once one of them found the server gone."""

    def __init__(self, limit: int | None) -> None:
        self._left = limit
        self._lock = threading.Lock()
        self.stopped = threading.Event()

    def take(self, wanted: int) -> int:
        """How many messages the next claim may take (0: none, the run is over)."""
        if self.stopped.is_set():
            return 0
        with self._lock:
            if self._left is None:
                return wanted
            granted = min(wanted, self._left)
            self._left -= granted
            return granted

    def give_back(self, unused: int) -> None:
        with self._lock:
            if self._left is not None:
                self._left += unused


def send_outbox(
    session_factory: sessionmaker[Session],
    settings: Settings,
    *,
    now: datetime | None = None,
    limit: int | None = None,
    batch_size: int = BATCH,
    workers: int = 1,
    connect_smtp: Connect = connect,
) -> SendReport:
    """Send every due message of the outbox (at most ``limit``); what happened to them.

    ``workers`` senders run side by side, each with its own session and SMTP connection:
    a sender mostly waits (for the server's replies, for the commit after each message),
    and several overlap their waits. Their claims keep them off each other's messages.
    ``now`` fixes the clock (tests, a later run after a back-off); by default each step
    reads the time. With the server unreachable, the claimed batches are deferred and the
    run stops: the rest waits for the next run, untouched.
    """
    run = _Run(limit)
    reports = [SendReport() for _ in range(max(workers, 1))]
    args = (session_factory, settings, now, batch_size, connect_smtp, run)
    if len(reports) == 1:
        _sender(*args, reports[0])
    else:
        errors: list[BaseException] = []

        def work(report: SendReport) -> None:
            try:
                _sender(*args, report)
            except BaseException as exc:  # raised again below, in the caller's thread
                run.stopped.set()
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(r,), daemon=True) for r in reports]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
    return SendReport(
        sent=sum(r.sent for r in reports),
        deferred=sum(r.deferred for r in reports),
        failed=sum(r.failed for r in reports),
        suppressed=sum(r.suppressed for r in reports),
    )


def _sender(
    session_factory: sessionmaker[Session],
    settings: Settings,
    now: datetime | None,
    batch_size: int,
    connect_smtp: Connect,
    run: _Run,
    report: SendReport,
) -> None:
    """One sender: claim a batch, send it over one connection, until nothing is due."""
    lease = lease_for(settings)
    while size := run.take(batch_size):
        with session_factory() as session:
            claimed = claim_due(session, now or utcnow(), limit=size, lease=lease)
            held = hold_back(session, claimed)
            session.commit()
            run.give_back(size - len(claimed))
            if not claimed:
                return
            report.suppressed += len(held)
            held_ids = {m.id for m in held}
            batch = [m for m in claimed if m.id not in held_ids]
            if batch and not _send_batch(
                session, settings, batch, now, lease, report, connect_smtp
            ):
                run.stopped.set()
                return


def _send_batch(
    session: Session,
    settings: Settings,
    batch: list[Notification],
    now: datetime | None,
    lease: timedelta,
    report: SendReport,
    connect_smtp: Connect,
) -> bool:
    """Send a claimed batch over one connection; False when the server is unreachable or
    went away (the run should stop)."""
    started = time.monotonic()
    try:
        smtp = connect_smtp(settings)
    except (OSError, smtplib.SMTPException) as exc:
        error = f"cannot reach {settings.smtp_host}:{settings.smtp_port}: {exc}"
        for message in batch:
            mark_deferred(session, message, now or utcnow(), error)
        session.commit()
        report.deferred += len(batch)
        log.warning("outbox: %s; %d message(s) deferred", error, len(batch))
        return False
    # Stop before a message could outlast the lease (every SMTP step may wait its time-out).
    deadline = started + lease.total_seconds() - 6 * settings.smtp_timeout
    try:
        for position, message in enumerate(batch):
            if time.monotonic() > deadline:
                release(session, batch[position:])
                session.commit()
                return True
            try:
                _deliver(smtp, session, message, settings, now or utcnow(), report)
            except _ConnectionLost:
                rest = batch[position + 1 :]
                for waiting in rest:
                    mark_deferred(session, waiting, now or utcnow(), "connection lost")
                report.deferred += len(rest)
                session.commit()
                return False
            session.commit()  # each outcome at once: a crash repeats one message at most
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    return True
