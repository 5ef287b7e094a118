"""CPU priority: work that can wait (imports, deliveries, password hashing) yields to requests."""

from __future__ import annotations

import contextlib
import os


def lower_priority(niceness: int) -> None:
    """Run the calling thread at `niceness` (Linux sets it per thread; the threads and processes
    it starts later inherit it); a no-op where there is no niceness."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, 0, niceness)
