"""The write lock knows when a writer waits, so chunked jobs pause only then."""

from __future__ import annotations

import threading

import pytest

from deconfliction.service.writelock import WriteLock

pytestmark = pytest.mark.unit


def test_contended_only_while_another_thread_waits() -> None:
    lock = WriteLock()
    assert not lock.contended
    got = threading.Event()

    def writer() -> None:
        with lock:
            got.set()

    assert not lock.held()
    with lock:
        with lock:  # re-entrant
            assert not lock.contended
        assert lock.held()
        thread = threading.Thread(target=writer)
        thread.start()
        while not lock.contended:  # the writer blocks on the held lock
            thread.join(0.001)
        assert not got.is_set()
    thread.join(10)
    assert got.is_set()
    assert not lock.contended and not lock.held()


def test_non_blocking_and_timed_acquire() -> None:
    lock = WriteLock()
    lock.acquire()
    result: list[bool] = []
    thread = threading.Thread(
        target=lambda: result.extend([lock.acquire(blocking=False), lock.acquire(timeout=0.01)])
    )
    thread.start()
    thread.join(10)
    assert result == [False, False]
    assert not lock.contended
    lock.release()
    assert lock.acquire(blocking=False)
    lock.release()
