"""The worker supervisor's back-off: a worker that keeps dying is restarted ever more slowly."""

from __future__ import annotations

import itertools
import logging
import subprocess
import sys
import time

import pytest

from caseload.supervisor import FIRST_DELAY_SECONDS, WorkerSupervisor


def test_a_crashing_worker_is_restarted_with_doubling_delays(
    caplog: pytest.LogCaptureFixture,
) -> None:
    launched: list[float] = []
    cleared: list[float] = []

    def start() -> subprocess.Popen[bytes]:
        launched.append(time.monotonic())
        return subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])

    def stop(process: subprocess.Popen[bytes]) -> None:
        process.kill()
        process.wait()

    supervisor = WorkerSupervisor(
        start, 1, stop_process=stop, on_all_dead=lambda: cleared.append(time.monotonic())
    )
    with caplog.at_level(logging.WARNING, logger="caseload"):
        supervisor.start()
        time.sleep(4.2)
        supervisor.stop()
    gaps = [later - earlier for earlier, later in itertools.pairwise(launched)]
    assert len(gaps) >= 3, gaps
    # each wait is at least the back-off (0.5, 1, 2 s ...), plus the time the process lived
    for n, gap in enumerate(gaps[:3]):
        assert gap >= FIRST_DELAY_SECONDS * 2**n, gaps
    assert gaps[2] > gaps[0] * 2
    assert len(cleared) == len(launched) or len(cleared) == len(launched) - 1
    lines = [r.getMessage() for r in caplog.records if "stopped (exit code 3)" in r.getMessage()]
    assert len(lines) >= 3 and "starting another in 0.5 s" in lines[0]
    assert "starting another in 2.0 s" in lines[2]
    before = len(launched)
    time.sleep(0.8)
    assert len(launched) == before  # stopped: nothing is restarted any more
