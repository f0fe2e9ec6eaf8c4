"""Pause Python's cyclic garbage collector while a re-match builds its many objects.

A re-match holds a large heap of long-lived objects (the vocabulary's 200,000 strings, the
lexicon's dictionaries, the parsed dictionary index) and creates hundreds of thousands of
short-lived ones (explanation dictionaries, word lists). The collector runs a full pass
over every tracked object each time enough new ones pile up, so at 50,000 calls × 1,000
profiles it spent about 2 s of a 13 s re-match walking objects that were all still alive.
The matcher makes no reference cycles worth collecting in between, so its phases run with
the collector paused; it is switched back on when the outermost phase ends (or fails), and
any cycles made meanwhile are collected by its next ordinary pass.

The pause is process-wide (the collector has no per-thread switch): a depth count under a
lock makes nested and concurrent phases safe, and a collector the caller switched off stays
off.
"""

from __future__ import annotations

import functools
import gc
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

_P = ParamSpec("_P")
_R = TypeVar("_R")

_lock = threading.Lock()
_depth = 0
_resume = False  # whether the outermost pause found the collector on


def _after_fork_in_child() -> None:
    # A process forked to analyse a share of the calls must not inherit the lock held by another
    # thread of its parent; it inherits the collector's state and the depth as they were.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cyclic garbage collector off (see the module docstring)."""
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()


def pauses_collector(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """Decorator: ``function`` runs inside :func:`collector_paused`."""

    @functools.wraps(function)
    def paused(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with collector_paused():
            return function(*args, **kwargs)

    return paused
