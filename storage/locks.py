"""Locks that hold across processes and hosts: exactly one scheduler runs against a
database (the lock "scheduler"), and one process at a time crawls a source ("crawl:<slug>").

Every database uses a lease row in ``scheduler_leases``: the holder renews it, and once a
holder stops renewing (it died) the row expires after ``ttl`` and the next process takes it
over. On PostgreSQL the lock also holds a session advisory lock on a connection of its own,
which the server frees the moment that process or its connection dies, so a standby takes
over at once instead of waiting for the lease to expire; the standby then overwrites the dead
holder's row. The renewals keep that connection busy, and the server ends it once idle for
``ttl``, so a holder that hangs loses the advisory lock as it would lose its lease.

Every write is a short transaction of its own: a SQLite writer lock held between calls would
stop the web app and the jobs from writing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from types import TracebackType

from sqlalchemy import Connection, Engine, delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from storage.models import SchedulerLease, utcnow

log = logging.getLogger(__name__)

DEFAULT_NAME = "scheduler"
DEFAULT_TTL = timedelta(seconds=30)


def default_holder() -> str:
    """``host:pid:random``: the host and process name the holder for people; the random
    part keeps two locks in one process (tests, a restart in place) apart."""
    return f"{socket.gethostname()[:160]}:{os.getpid()}:{secrets.token_hex(4)}"


def advisory_key(connection: Connection, name: str = DEFAULT_NAME) -> int:
    """The advisory lock key of the lock ``name`` on this connection's database and schema.

    Advisory locks are server-wide, so the key names the database and the schema: processes
    of different databases, or tests each in a schema of their own, must not contend. It is a
    non-negative 63-bit int, so it fits PostgreSQL's signed ``bigint``.
    """
    database, schema = connection.execute(text("SELECT current_database(), current_schema()")).one()
    digest = hashlib.sha256(f"{database}.{schema or ''}.{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF


def live_lease(
    session: Session, name: str = DEFAULT_NAME, now: datetime | None = None
) -> SchedulerLease | None:
    """The unexpired lease of the lock ``name``: who holds it now (the scheduler's host:pid
    for the sources page), or None when nobody does."""
    return session.scalar(
        select(SchedulerLease).where(
            SchedulerLease.name == name, SchedulerLease.expires_at > (now or utcnow())
        )
    )


class LeaseLock:
    """A lock one process holds at a time (the scheduler, or the crawl of one source).

    ``try_acquire`` or ``wait_until_acquired`` takes it, ``renew`` must run well within
    ``ttl`` (the service renews every ``ttl / 3``) and says whether it is still held, and
    ``release`` frees it. As a context manager it waits until acquired and releases on exit.
    """

    def __init__(
        self,
        engine: Engine,
        name: str = DEFAULT_NAME,
        ttl: timedelta = DEFAULT_TTL,
        holder: str | None = None,
        what: str = "scheduler",
    ) -> None:
        if ttl <= timedelta(0):
            raise ValueError(f"the lease must last some time, not {ttl}")
        self.engine = engine
        self.name = name
        self.what = what  # what the holder is, for people: "scheduler", "crawl of urbact"
        self.ttl = ttl
        self.holder = (holder or default_holder())[:200]
        self._postgres = engine.dialect.name == "postgresql"
        self._pg: Connection | None = None  # the advisory lock's own connection
        self._key = 0
        self._held = False
        self._row_may_be_ours = False  # release() deletes the row unless it is surely gone
        self._mutex = threading.Lock()  # renew() and release() may run on different threads

    # --- public ---------------------------------------------------------------------------
    @property
    def held(self) -> bool:
        """Whether this lock was acquired and not since lost or released (as last seen)."""
        return self._held

    def try_acquire(self) -> bool:
        """Take the lock if it is free or its holder's lease expired; never waits for it.

        Database errors propagate: a process that cannot reach its database should say so.
        """
        with self._mutex:
            if self._held:
                return self._renew_locked()
            if self._postgres and not self._take_advisory_lock():
                return False
            try:
                # Holding the advisory lock proves the row's holder is dead: take it over.
                taken = self._take_lease(force=self._postgres)
            except BaseException:
                self._drop_advisory_lock()
                raise
            if not taken:
                self._drop_advisory_lock()
                return False
            self._held = self._row_may_be_ours = True
            return True

    def wait_until_acquired(
        self,
        stop: threading.Event | None = None,
        poll: float = 5.0,
        on_wait: Callable[[str], None] | None = None,
    ) -> bool:
        """Block until the lock is ours (True) or ``stop`` is set (False), trying every
        ``poll`` seconds.

        ``on_wait`` hears once, in a sentence, who holds the lock, so a command can tell its
        user why it is not starting. A lost database connection while waiting is logged and
        retried: a standby should outlive a database restart.
        """
        stop = stop or threading.Event()
        told = False
        while not stop.is_set():
            try:
                if self.try_acquire():
                    return True
                if not told and on_wait is not None:
                    on_wait(self._waiting_sentence())
                told = True
            except OperationalError as exc:
                log.warning("cannot reach the database to take the lock %s: %s", self.name, exc)
            stop.wait(poll)
        return False

    def renew(self) -> bool:
        """Extend the lease by ``ttl``; False when the lock is lost: another process took
        the row, the advisory lock's connection died, or the database cannot be reached.

        After False the caller must stop the work the lock guards at once.
        """
        with self._mutex:
            if not self._held:
                return False
            return self._renew_locked()

    def release(self) -> None:
        """Free the lock: delete our lease row and end the advisory lock. Safe to call
        again, and never raises for a database that went away (it runs in ``finally``)."""
        with self._mutex:
            self._held = False
            if self._row_may_be_ours:
                try:
                    with self.engine.begin() as conn:
                        conn.execute(
                            delete(SchedulerLease).where(
                                SchedulerLease.name == self.name,
                                SchedulerLease.holder == self.holder,
                            )
                        )
                    self._row_may_be_ours = False
                except DBAPIError as exc:
                    log.warning(
                        "could not delete the lease %s (it will expire): %s", self.name, exc
                    )
            self._drop_advisory_lock()

    def __enter__(self) -> LeaseLock:
        self.wait_until_acquired()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "held" if self._held else "not held"
        return f"<LeaseLock {self.name!r} {self.holder} {state}>"

    # --- the lease row --------------------------------------------------------------------
    def _take_lease(self, *, force: bool) -> bool:
        """Write our lease row if it is free, expired or ours (or, with ``force``, in any
        case); whether we hold it now. Two takers at once: one insert fails, that one loses."""
        now = utcnow()
        condition = [SchedulerLease.name == self.name]
        if not force:
            condition.append(
                (SchedulerLease.expires_at <= now) | (SchedulerLease.holder == self.holder)
            )
        try:
            with self.engine.begin() as conn:
                taken = conn.execute(
                    update(SchedulerLease)
                    .where(*condition)
                    .values(
                        holder=self.holder,
                        acquired_at=now,
                        renewed_at=now,
                        expires_at=now + self.ttl,
                    )
                )
                if taken.rowcount == 1:
                    return True
                conn.execute(
                    insert(SchedulerLease).values(
                        name=self.name,
                        holder=self.holder,
                        acquired_at=now,
                        renewed_at=now,
                        expires_at=now + self.ttl,
                    )
                )
                return True
        except IntegrityError:  # the row exists (a live holder) or another taker was first
            return False

    def _renew_locked(self) -> bool:
        if self._postgres and not self._advisory_connection_alive():
            log.warning("the database connection of the lock %s died: the lock is lost", self.name)
            self._held = False
            return False
        now = utcnow()
        try:
            with self.engine.begin() as conn:
                renewed = conn.execute(
                    update(SchedulerLease)
                    .where(SchedulerLease.name == self.name, SchedulerLease.holder == self.holder)
                    .values(renewed_at=now, expires_at=now + self.ttl)
                )
        except DBAPIError as exc:
            log.warning("cannot renew the lease %s: %s", self.name, exc)
            self._held = False
            self._drop_advisory_lock()
            return False
        if renewed.rowcount != 1:
            log.warning("another %s took the lease %s over: the lock is lost", self.what, self.name)
            self._held = self._row_may_be_ours = False
            self._drop_advisory_lock()
            return False
        return True

    def current(self) -> SchedulerLease | None:
        """The live lease of this lock's name, whoever holds it (None: nobody does)."""
        with Session(self.engine) as session:
            return live_lease(session, self.name)

    def _waiting_sentence(self) -> str:
        lease = self.current()
        who = f" ({lease.holder})" if lease is not None else ""
        return f"another {self.what}{who} is active; waiting to take over"

    # --- the advisory lock (PostgreSQL) ---------------------------------------------------
    def _take_advisory_lock(self) -> bool:
        """Take the advisory lock on a connection of our own, kept open while we hold it.

        The connection leaves the pool: pooled, it would keep the lock after ``close()``,
        and a session the pool hands to others must not carry it. Autocommit keeps it from
        sitting idle in a transaction for hours. ``idle_session_timeout`` (PostgreSQL 14 on)
        makes the server end the session of a holder that stopped renewing, hung or on a
        host that vanished without closing its socket, so its lock lasts no longer than its
        lease would.
        """
        conn = self.engine.execution_options(isolation_level="AUTOCOMMIT").connect()
        try:
            conn.detach()
            if (conn.dialect.server_version_info or (0,)) >= (14,):
                timeout_ms = max(1, int(self.ttl.total_seconds() * 1000))
                conn.execute(
                    text("SELECT set_config('idle_session_timeout', :ms, false)"),
                    {"ms": str(timeout_ms)},
                )
            key = advisory_key(conn, self.name)
            got = conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar()
        except BaseException:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._pg, self._key = conn, key
        return True

    def _advisory_connection_alive(self) -> bool:
        if self._pg is None:
            return False
        try:
            self._pg.execute(text("SELECT 1"))
        except DBAPIError:
            self._drop_advisory_lock()
            return False
        return True

    def _drop_advisory_lock(self) -> None:
        """Unlock and close the advisory connection, if any; closing alone would free the
        lock too (the connection is detached), the unlock just says so plainly."""
        conn, self._pg = self._pg, None
        if conn is None:
            return
        try:
            if not conn.invalidated:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
        except SQLAlchemyError as exc:
            log.debug("the advisory lock's connection is gone, and the lock with it: %s", exc)
        finally:
            try:
                conn.close()
            except Exception as exc:  # a broken socket: nothing is left to free
                log.debug("closing the advisory lock's connection failed: %s", exc)
