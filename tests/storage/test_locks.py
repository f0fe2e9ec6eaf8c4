"""The scheduler's single-instance lock, on SQLite and (with FOERDERDESK_TEST_DATABASE_URL) on
PostgreSQL: one holder at a time, takeover after a holder dies, and the same with two real
processes, the first killed without a chance to release."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select, text, update
from sqlalchemy.orm import Session

from storage.locks import LeaseLock, advisory_key, live_lease
from storage.models import SchedulerLease, utcnow

ROOT = Path(__file__).parents[2]


def _postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def _lock(engine: Engine, holder: str, ttl: float = 30.0, name: str = "scheduler") -> LeaseLock:
    return LeaseLock(engine, name=name, ttl=timedelta(seconds=ttl), holder=holder)


@pytest.fixture
def locks(engine: Engine) -> Iterator[list[LeaseLock]]:
    """Locks a test makes, released at its end whatever happened."""
    made: list[LeaseLock] = []
    yield made
    for lock in made:
        lock.release()


def _holder(engine: Engine, name: str = "scheduler") -> str | None:
    with Session(engine) as session:
        lease = live_lease(session, name)
        return lease.holder if lease is not None else None


def _advisory_locks_held(engine: Engine, name: str = "scheduler") -> int:
    """How many sessions hold the advisory lock ``name`` of this test's schema."""
    with engine.connect() as conn:
        key = advisory_key(conn, name)
        return conn.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND classid = :hi AND objid = :lo AND objsubid = 1"
            ),
            {"hi": key >> 32, "lo": key & 0xFFFF_FFFF},
        ).scalar_one()


# --- in one process ---------------------------------------------------------------------------
def test_one_holder_at_a_time_and_the_next_after_release(
    engine: Engine, locks: list[LeaseLock]
) -> None:
    a, b = _lock(engine, "host-a:1"), _lock(engine, "host-b:2")
    locks += [a, b]
    assert a.try_acquire() and a.held
    assert not b.try_acquire() and not b.held
    assert _holder(engine) == "host-a:1"

    with Session(engine) as session:
        before = session.scalars(select(SchedulerLease)).one()
    time.sleep(0.01)
    assert a.renew()
    with Session(engine) as session:
        after = session.scalars(select(SchedulerLease)).one()
    assert after.holder == "host-a:1" and after.acquired_at == before.acquired_at
    assert after.renewed_at > before.renewed_at and after.expires_at > before.expires_at
    assert not b.try_acquire()

    a.release()
    assert not a.held and _holder(engine) is None
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(SchedulerLease)) == 0
    assert not a.renew()  # released: nothing to renew
    assert b.try_acquire() and _holder(engine) == "host-b:2"
    assert b.renew()


def test_release_is_idempotent_and_the_context_manager_holds_for_its_block(
    engine: Engine, locks: list[LeaseLock]
) -> None:
    with _lock(engine, "host-a:1") as a:
        assert a.held and _holder(engine) == "host-a:1"
        other = _lock(engine, "host-b:2")
        locks.append(other)
        assert not other.try_acquire()
    assert not a.held and _holder(engine) is None
    a.release()
    a.release()
    assert other.try_acquire()
    if _postgres(engine):
        assert _advisory_locks_held(engine) == 1
        other.release()
        assert _advisory_locks_held(engine) == 0  # not left behind on a pooled connection


def test_locks_of_other_names_do_not_contend(engine: Engine, locks: list[LeaseLock]) -> None:
    a, b = _lock(engine, "host-a:1", name="one"), _lock(engine, "host-b:2", name="two")
    locks += [a, b]
    assert a.try_acquire() and b.try_acquire()
    assert _holder(engine, "one") == "host-a:1" and _holder(engine, "two") == "host-b:2"


def test_takers_racing_for_a_free_lock_get_it_once(engine: Engine, locks: list[LeaseLock]) -> None:
    racers = [_lock(engine, f"host:{n}") for n in range(6)]
    locks += racers
    start = threading.Barrier(len(racers))
    won: list[bool] = [False] * len(racers)

    def race(n: int) -> None:
        start.wait()
        won[n] = racers[n].try_acquire()

    threads = [threading.Thread(target=race, args=(n,)) for n in range(len(racers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sum(won) == 1, won
    assert _holder(engine) == racers[won.index(True)].holder


def test_a_holder_that_stops_renewing_is_taken_over_after_its_ttl(
    engine: Engine, locks: list[LeaseLock]
) -> None:
    ttl = 0.5
    a, b = _lock(engine, "host-a:1", ttl=ttl), _lock(engine, "host-b:2", ttl=ttl)
    locks += [a, b]
    assert a.try_acquire()
    started = time.monotonic()
    assert not b.try_acquire()
    assert _holder(engine) == "host-a:1"
    # A hangs: no renewal. Its lease runs out (on PostgreSQL the server also ends its idle
    # advisory session), and B gets the lock.
    time.sleep(ttl + 0.3)
    assert _holder(engine) is None  # expired: no scheduler is active
    deadline = time.monotonic() + 5
    while not b.try_acquire():
        assert time.monotonic() < deadline, "B never took over the expired lock"
        time.sleep(0.05)
    assert time.monotonic() - started >= ttl
    assert _holder(engine) == "host-b:2"
    assert not a.renew() and not a.held  # A wakes up and learns it lost the lock
    a.release()  # must not delete B's lease
    assert _holder(engine) == "host-b:2" and b.renew()


def test_a_holder_whose_row_was_taken_learns_it_on_renew(
    engine: Engine, locks: list[LeaseLock]
) -> None:
    a = _lock(engine, "host-a:1")
    locks.append(a)
    assert a.try_acquire()
    with engine.begin() as conn:
        conn.execute(update(SchedulerLease).values(holder="somebody-else"))
    assert not a.renew()
    a.release()
    assert _holder(engine) == "somebody-else"  # not ours, so not deleted


def test_a_stale_row_of_a_dead_holder(engine: Engine, locks: list[LeaseLock]) -> None:
    # A holder killed mid-lease left its row. On PostgreSQL nobody holds the advisory lock,
    # which proves the holder dead: the row is taken over at once. SQLite can only wait.
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            insert(SchedulerLease).values(
                name="scheduler",
                holder="dead-host:9",
                acquired_at=now,
                renewed_at=now,
                expires_at=now + timedelta(seconds=60),
            )
        )
    b = _lock(engine, "host-b:2")
    locks.append(b)
    said: list[str] = []
    if _postgres(engine):
        assert b.try_acquire() and _holder(engine) == "host-b:2"
        assert _advisory_locks_held(engine) == 1
    else:
        stop = threading.Event()
        threading.Timer(0.3, stop.set).start()
        assert not b.wait_until_acquired(stop, poll=0.05, on_wait=said.append)
        assert said == ["another scheduler (dead-host:9) is active; waiting to take over"]
        assert _holder(engine) == "dead-host:9"


def test_waiting_ends_when_stopped_and_names_the_holder_once(
    engine: Engine, locks: list[LeaseLock]
) -> None:
    a, b = _lock(engine, "host-a:1"), _lock(engine, "host-b:2")
    locks += [a, b]
    assert a.try_acquire()
    stop = threading.Event()
    said: list[str] = []
    threading.Timer(0.4, stop.set).start()
    started = time.monotonic()
    assert not b.wait_until_acquired(stop, poll=0.05, on_wait=said.append)
    assert 0.3 < time.monotonic() - started < 5
    assert said == ["another scheduler (host-a:1) is active; waiting to take over"]
    # Released while B waits: B gets it on its next poll.
    threading.Timer(0.2, a.release).start()
    assert b.wait_until_acquired(poll=0.05) and _holder(engine) == "host-b:2"


def test_the_advisory_key_names_the_database_and_schema(engine: Engine) -> None:
    if not _postgres(engine):
        pytest.skip("advisory locks are PostgreSQL's")
    with engine.begin() as conn:
        mine = advisory_key(conn)
        assert advisory_key(conn, "other") != mine
        conn.execute(text("SET LOCAL search_path TO public"))
        assert advisory_key(conn) != mine  # another schema: another lock
    with engine.connect() as conn:
        assert advisory_key(conn) == mine  # stable
    assert 0 <= mine < 2**63


# --- two real processes -------------------------------------------------------------------
CHILD = """
import sys, time
from datetime import timedelta
from storage.locks import LeaseLock
from storage.db import make_engine

url, ttl, poll = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
lock = LeaseLock(make_engine(url), ttl=timedelta(seconds=ttl))
print("holder", lock.holder, flush=True)
lock.wait_until_acquired(poll=poll, on_wait=lambda said: print("waiting", said, flush=True))
print("acquired", flush=True)
while lock.renew():
    time.sleep(ttl / 3)
print("lost", flush=True)
"""


EOF = "\0end of output"


class Child:
    """A scheduler stand-in in a process of its own, whose output lines the test can await."""

    def __init__(self, url: str, ttl: float, poll: float) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, "-c", CHILD, url, str(ttl), str(poll)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(EOF)

    def expect(self, word: str, timeout: float) -> str | None:
        """The first line starting with ``word`` within ``timeout`` seconds, or None."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is EOF:
                self._queue.put(EOF)  # the process ended: so does every later wait
                break
            self.lines.append(line)
            if line.startswith(word):
                return line
        return None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


def test_a_second_process_waits_and_takes_over_when_the_first_is_killed(
    engine: Engine, database_url: str
) -> None:
    # On PostgreSQL the first's lease would outlast the test: a quick takeover there can only
    # come from the advisory lock the server freed. SQLite has the lease alone, kept short.
    postgres = _postgres(engine)
    ttl, poll = (60.0, 0.25) if postgres else (1.5, 0.25)
    children: list[Child] = []
    try:
        first = Child(database_url, ttl, poll)
        children.append(first)
        assert first.expect("acquired", 30), first.lines
        first_holder = first.lines[0].removeprefix("holder ")
        assert _holder(engine) == first_holder

        second = Child(database_url, ttl, poll)
        children.append(second)
        waiting = second.expect("waiting", 30)
        assert (
            waiting == f"waiting another scheduler ({first_holder}) is active; waiting to take over"
        )
        # The first lives and renews: past its ttl, the second still waits.
        assert second.expect("acquired", 2.0) is None, second.lines
        assert _holder(engine) == first_holder

        first.kill()  # SIGKILL: no release, its row stays behind
        killed = time.monotonic()
        assert second.expect("acquired", 30), second.lines
        took = time.monotonic() - killed
        assert took < (5.0 if postgres else ttl + 5.0)
        assert _holder(engine) == second.lines[0].removeprefix("holder ")
        assert second.process.poll() is None and second.expect("lost", 0.5) is None
    finally:
        for child in children:
            child.kill()
            assert child.process.stdout is not None
            child.process.stdout.close()
