"""The cyclic garbage collector is paused while a re-match runs, and only then."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

import matcher.runs
from matcher.collector import collector_paused, pauses_collector
from matcher.runs import rematch
from tests.storage.factories import make_call, make_profile


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_pause_switches_the_collector_off_and_back_on_also_after_an_error() -> None:
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("a phase failed")
    assert gc.isenabled()


def test_nested_pauses_switch_it_on_only_when_the_outermost_ends() -> None:
    @pauses_collector
    def inner() -> bool:
        return gc.isenabled()

    with collector_paused():
        assert inner() is False
        assert not gc.isenabled()  # the inner phase's end did not switch it on
    assert gc.isenabled()


def test_a_collector_the_caller_switched_off_stays_off() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_overlapping_pauses_in_two_threads() -> None:
    inside = threading.Event()
    release = threading.Event()

    def other() -> None:
        with collector_paused():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    with collector_paused():
        thread.start()
        assert inside.wait(5)
    # This thread's pause ended first; the other one's still runs.
    assert not gc.isenabled()
    release.set()
    thread.join(5)
    assert gc.isenabled()


def test_a_rematch_builds_its_explanations_with_the_collector_paused(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
    make_call(
        session,
        title="Town twinning",
        description_text="Citizens of twinned towns meet in town twinning projects.",
        deadlines=[datetime(2026, 9, 19, 15, 0, tzinfo=UTC)],
    )
    make_profile(session, name="Partnerschaften", description="town twinning citizens meet")
    session.commit()
    seen: list[bool] = []
    real = matcher.runs.explanation

    def watched(*args: object, **kwargs: object) -> object:
        seen.append(gc.isenabled())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(matcher.runs, "explanation", watched)
    run = rematch(session, trigger="manual", now=now)
    assert run.outcome == "succeeded", run.parameters
    assert seen and not any(seen)
    assert gc.isenabled()


def _pause_and_leave() -> None:
    with collector_paused():
        pass


def test_a_process_forked_while_another_thread_holds_the_lock_can_still_pause() -> None:
    import multiprocessing

    import matcher.collector as collector

    with collector._lock:  # as if another thread were entering a pause at the fork
        child = multiprocessing.get_context("fork").Process(target=_pause_and_leave)
        child.start()
    child.join(10)
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0
