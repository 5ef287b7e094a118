"""CPU priority: work that can wait (imports, deliveries, password hashing) yields to requests."""

from __future__ import annotations

import contextlib
import os


def lower_priority(niceness: int, thread_id: int = 0) -> None:
    """Run this thread (Linux sets niceness per thread; 0 is the caller, and the threads and
    processes it starts inherit it) at `niceness`; a no-op where there is no niceness."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, thread_id, niceness)
