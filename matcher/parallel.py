"""How much of the machine the matcher may use: threads always, forked processes only if asked.

Forking copies a process with all its threads' locks as they were, so it is safe in a
single-threaded command (the scheduler's re-match, ``foerderdesk match``, the bench) and
unsafe in a threaded web server. A :class:`~matcher.vectorize.TextModel` therefore forks
only when its ``Parallelism`` says so; the web app keeps the default, which never forks.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Parallelism:
    """Threads for the sparse and compiled steps (they release the GIL), whether the
    analysis of a large corpus may be shared with a forked process, and how many calls a
    step holds at once (the memory it needs grows with it)."""

    threads: int = 2
    processes: int = 1  # 2: fork one worker for the analysis of ``min_calls`` or more calls
    min_calls: int = 4000  # below this, forking costs more than it saves
    read_chunk: int = 500  # calls hashed and tokenised at once
    count_chunk: int = 2500  # calls counted at once, a chunk per thread

    def __post_init__(self) -> None:
        if (
            self.threads < 1
            or self.processes not in (1, 2)
            or min(self.min_calls, self.read_chunk, self.count_chunk) < 1
        ):
            raise ValueError(f"impossible parallelism: {self}")

    def forks_for(self, n_calls: int) -> bool:
        """Whether work on ``n_calls`` documents is shared with a forked process."""
        return self.processes > 1 and n_calls >= self.min_calls and can_fork()


# The re-match of the scheduler and the command line: one worker process for the analysis.
REMATCH = Parallelism(processes=2)


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


# The work a forked worker does: a function of (begin, stop) over the caller's model and
# documents, inherited by the fork, not pickled (a model may hold an open dictionary file).
# Set only around a fork.
_FORK_WORK: list[Callable[[int, int], Any]] = []


def _forked_slice(begin: int, stop: int) -> Any:
    return _FORK_WORK[0](begin, stop)


def in_two_processes(
    parallelism: Parallelism, work: Callable[[int, int], Any], n: int
) -> tuple[Any, Any] | None:
    """``work(0, n // 2)`` in a forked worker and ``work(n // 2, n)`` here, at the same time.

    None where ``parallelism`` does not allow it for ``n`` documents; the caller then does
    the work in this process.
    """
    if not parallelism.forks_for(n):
        return None
    half = n // 2
    _FORK_WORK[:] = [work]
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            first = pool.submit(_forked_slice, 0, half)
            second = work(half, n)
            return first.result(), second
    finally:
        _FORK_WORK.clear()


def share_chunks(
    work: Callable[[int], Any], finish: Callable[[], Any], n_chunks: int
) -> tuple[dict[int, Any], dict[int, Any], Any] | None:
    """``work(i)`` for chunks ``0 .. n_chunks - 1``, by this process and a forked worker.

    Each takes the next chunk nobody has taken yet, so both finish together however fast
    each one runs (a forked worker is often the slower one: its first writes copy pages).
    The worker sends each chunk's result as soon as it has it, a thread here receives them
    while this process works, and the worker ends by sending ``finish()`` (e.g. the table
    its results are numbered in). Returns (this process's results by chunk, the worker's
    results by chunk, the worker's ``finish()``), or None where forking is not possible.

    A worker that fails or dies loses nothing: its results are dropped (they are numbered
    in its own table) and the chunks it had are done here; a warning says so.
    """
    if n_chunks < 2 or not can_fork():
        return None
    context = multiprocessing.get_context("fork")
    taken = context.Value("q", 0)
    receiving, sending = context.Pipe(duplex=False)

    def next_chunk() -> int:
        with taken.get_lock():
            i = int(taken.value)
            taken.value = i + 1
        return i

    def worker() -> None:
        receiving.close()
        try:
            while (i := next_chunk()) < n_chunks:
                sending.send(("chunk", i, work(i)))
            sending.send(("done", -1, finish()))
        except BaseException as exc:  # reported to the parent, which redoes the chunks
            sending.send(("failed", -1, f"{type(exc).__name__}: {exc}"))
        finally:
            sending.close()

    theirs: dict[int, Any] = {}
    outcome: list[Any] = []

    def receive() -> None:
        try:
            while True:
                kind, i, value = receiving.recv()
                if kind == "chunk":
                    theirs[i] = value
                else:
                    outcome.append((kind, value))
                    return
        except (EOFError, OSError) as exc:
            outcome.append(("failed", f"the worker ended without its results ({exc!r})"))

    process = context.Process(target=worker, daemon=True)
    process.start()
    sending.close()
    receiver = threading.Thread(target=receive, daemon=True)
    receiver.start()
    mine: dict[int, Any] = {}
    try:
        while (i := next_chunk()) < n_chunks:
            mine[i] = work(i)
    finally:
        receiver.join()
        receiving.close()
        process.join()
    kind, value = outcome[0] if outcome else ("failed", "no answer")
    if kind == "done":
        return mine, theirs, value
    logger.warning("analysis worker failed (%s); its part is done in this process", value)
    for i in range(n_chunks):
        if i not in mine:
            mine[i] = work(i)
    return mine, {}, None
