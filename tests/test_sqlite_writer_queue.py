"""SQLite's write lock goes to a waiting request before the worker's next transaction."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from caseload.sqlite_writes import WriterQueue, _begin_immediate
from tests.support import REPO

# A worker with a queue of work: transaction after transaction, 20 ms each, in its own process.
BACKGROUND = """
import sqlite3, sys, time
from caseload import sqlite_writes
path, seconds = sys.argv[1], float(sys.argv[2])
sqlite_writes.defer_to_requests()  # what `caseload worker` does at start
conn = sqlite3.connect(path, isolation_level=None)
conn.execute("PRAGMA busy_timeout=5000")
queue = sqlite_writes.WriterQueue(path)
print("ready", flush=True)
end = time.monotonic() + seconds
while time.monotonic() < end:
    sqlite_writes._begin_immediate(conn, queue)
    conn.execute("UPDATE counter SET n = n + 1")
    time.sleep(0.02)
    conn.commit()
"""


def test_a_waiting_request_writer_goes_before_the_workers_next_transaction(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "queue.sqlite3")
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE counter (n INTEGER)")
        setup.execute("INSERT INTO counter VALUES (0)")
        setup.execute("CREATE TABLE requests (at REAL)")
    background = subprocess.Popen(
        [sys.executable, "-c", BACKGROUND, path, "4"],
        cwd=REPO,
        stdout=subprocess.PIPE,
    )
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=5000")
    queue = WriterQueue(path)
    waits: list[float] = []
    try:
        assert background.stdout is not None
        assert background.stdout.readline().strip() == b"ready"
        time.sleep(0.2)  # the worker is busy
        for _ in range(15):
            asked = time.monotonic()
            _begin_immediate(conn, queue)
            waits.append(time.monotonic() - asked)
            conn.execute("INSERT INTO requests VALUES (?)", (asked,))
            conn.commit()
            time.sleep(0.03)
    finally:
        background.wait(10)
        queue.close()
        conn.close()
    assert background.returncode == 0
    with sqlite3.connect(path) as check:
        worker_transactions = check.execute("SELECT n FROM counter").fetchone()[0]
        requests = check.execute("SELECT count(*) FROM requests").fetchone()[0]
    assert requests == 15
    # the worker kept working between the requests
    assert worker_transactions > 30
    # each request waited for the one transaction of the worker under way, not for its queue:
    # without the hand-off the worker begins again microseconds after each commit, and the
    # request, asking every 8 ms, waits for many of them (seconds, or its busy timeout)
    assert max(waits) < 0.12, [round(w * 1000) for w in waits]
