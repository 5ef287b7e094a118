"""Work that can wait runs at a lower CPU priority: a thread set by lower_priority, and the
password-hashing pool's threads (Linux sets niceness per thread)."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from caseload import security
from caseload.priority import lower_priority
from caseload.settings import Settings


def _own_niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_lower_priority_sets_the_calling_thread_and_what_it_starts() -> None:
    def lowered() -> tuple[int, int]:
        lower_priority(7)
        with ThreadPoolExecutor(max_workers=1) as started:
            return _own_niceness(), started.submit(_own_niceness).result()

    before = _own_niceness()
    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(lowered).result() == (7, 7)
    assert _own_niceness() == before  # only that thread, not the caller of the pool


def test_password_hashing_threads_run_at_the_hashing_niceness() -> None:
    hashing = security._for(Settings(secret_key="priority-test"))
    assert hashing.pool.submit(_own_niceness).result() == security.HASHING_NICENESS
