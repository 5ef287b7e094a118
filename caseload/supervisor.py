"""Keeps `caseload serve`'s worker processes running: a dead one is started again, with back-off."""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable

log = logging.getLogger("caseload")

FIRST_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 30.0
HEALTHY_AFTER_SECONDS = 60.0  # a worker that ran this long before dying resets the back-off
POLL_SECONDS = 0.1


class _Slot:
    """One worker position: its current process (or none, while waiting to restart)."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.restart_at = 0.0
        self.delay = FIRST_DELAY_SECONDS


class WorkerSupervisor:
    """Starts `count` workers and restarts any that exits, until `stop()`.

    Back-off per worker: 0.5 s, doubling to 30 s while it keeps dying, back to 0.5 s once
    one ran a minute. `on_all_dead` runs when no worker is left alive (readiness).
    """

    def __init__(
        self,
        start: Callable[[], subprocess.Popen[bytes]],
        count: int,
        *,
        stop_process: Callable[[subprocess.Popen[bytes]], None],
        on_all_dead: Callable[[], None] | None = None,
        shutting_down: Callable[[], bool] = lambda: False,
        role: str = "worker",
    ) -> None:
        self._role = role
        self._start, self._stop_process, self._on_all_dead = start, stop_process, on_all_dead
        self._shutting_down = shutting_down
        self._slots = [_Slot() for _ in range(count)]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)
        self.restarts = 0

    def start(self) -> None:
        for slot in self._slots:
            self._launch(slot)
        self._thread.start()

    def pids(self) -> list[int]:
        return [s.process.pid for s in self._slots if s.process is not None]

    def stop(self) -> None:
        """No more restarts; then every worker is stopped (SIGTERM, then SIGKILL)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        for slot in self._slots:
            if slot.process is not None:
                self._stop_process(slot.process)

    def _launch(self, slot: _Slot) -> None:
        slot.process = self._start()
        slot.started_at = time.monotonic()

    def _watch(self) -> None:
        while not self._stopping.wait(POLL_SECONDS):
            if self._shutting_down():
                continue  # the whole program is stopping; stop() ends the rest
            now = time.monotonic()
            for slot in self._slots:
                if slot.process is None:
                    if now >= slot.restart_at and not self._stopping.is_set():
                        self._launch(slot)
                        self.restarts += 1
                    continue
                code = slot.process.poll()
                if code is None:
                    continue
                self._died(slot, code, now)

    def _died(self, slot: _Slot, code: int, now: float) -> None:
        assert slot.process is not None
        if now - slot.started_at >= HEALTHY_AFTER_SECONDS:
            slot.delay = FIRST_DELAY_SECONDS
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        log.warning(
            "%s process %d stopped (%s); starting another in %.1f s",
            self._role,
            slot.process.pid,
            how,
            slot.delay,
        )
        slot.process = None
        slot.restart_at = now + slot.delay
        slot.delay = min(slot.delay * 2, MAX_DELAY_SECONDS)
        if self._on_all_dead is not None and all(s.process is None for s in self._slots):
            try:
                self._on_all_dead()
            except Exception:  # noqa: BLE001 - readiness catches up on its own (key expiry)
                log.warning("could not clear the worker heartbeat")
