"""`make memory-check`: the API's and the worker's peak memory for one large CSV import.

One API process and one worker process (fresh, on an empty SQLite database under the
embedded defaults, or PostgreSQL with MEMORY_CHECK_POSTGRES=1), one provider, one upload of a
MEMORY_CHECK_ROWS-row CSV (default 1,000,000) from the upload request to COMPLETED. Prints
each process's resident memory before the upload, its sampled peak during it and the
kernel's high-water mark (VmHWM), against issue #14's targets (worker <= 300 MB, API <= 250
MB); exits non-zero when a peak is over its target or the import did not complete.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.datagen import make_csv  # noqa: E402
from bench.stack import (  # noqa: E402
    FileInbox,
    PeakRss,
    Stack,
    follow,
    machine_load,
    migrate,
    sign_up,
    stack_env,
    upload,
    wait_ready,
)
from caseload.embedded_redis import EmbeddedRedis, free_port  # noqa: E402

ROWS = int(os.environ.get("MEMORY_CHECK_ROWS", "1000000"))
WORKER_TARGET_MB = 300
API_TARGET_MB = 250


def high_water_mb(pid: int) -> float:
    """The kernel's peak resident set of a live process (VmHWM), in MB."""
    for text in Path(f"/proc/{pid}/status").read_text().splitlines():
        if text.startswith("VmHWM:"):
            return int(text.split()[1]) * 1024 / 1e6
    return float("nan")


def resident_mb(pid: int) -> float:
    for text in Path(f"/proc/{pid}/status").read_text().splitlines():
        if text.startswith("VmRSS:"):
            return int(text.split()[1]) * 1024 / 1e6
    return float("nan")


async def measure(database_url: str | None, data_dir: Path, redis_url: str, data: bytes) -> bool:
    env = stack_env(
        database_url,
        redis_url,
        data_dir,
        CASELOAD_MAX_UPLOAD_BYTES=str(200_000_000),
        CASELOAD_MAX_IMPORT_ROWS=str(ROWS + 1),
        CASELOAD_EMAIL_BACKEND="file",
    )
    migrate(env)
    stack = Stack(env)
    try:
        base = stack.start_api()
        await wait_ready(base)
        worker = stack.start_worker()
        api = stack.apis[0]
        token = await sign_up(base, FileInbox(data_dir / "mail"))
        before = {"API": resident_mb(api.pid), "worker": resident_mb(worker.pid)}
        with PeakRss(worker.pid) as worker_rss, PeakRss(api.pid) as api_rss:
            started = time.perf_counter()
            job = await upload(base, token, data, "big.csv", sendInvitations=False)
            answered = time.perf_counter() - started
            events = await follow(base, token, job["id"])
            seconds = time.perf_counter() - started
        last = events[-1]
        print(
            f"  {last['status']}: {last['processedRows']:,} of {last['totalRows']:,} rows, "
            f"created {last['createdCount']:,}, errors {last['errorCount']:,}; "
            f"upload answered in {answered:.1f} s, COMPLETED at {seconds:.1f} s"
        )
        ok = last["status"] == "COMPLETED" and last["processedRows"] == ROWS
        for name, pid, peak, target in (
            ("API", api.pid, api_rss.peak, API_TARGET_MB),
            ("worker", worker.pid, worker_rss.peak, WORKER_TARGET_MB),
        ):
            hwm = high_water_mb(pid)
            verdict = "ok" if max(peak, hwm) <= target else "OVER"
            ok = ok and verdict == "ok"
            print(
                f"  {name:<6}: {before[name]:6.0f} MB before, peak {peak:6.0f} MB sampled, "
                f"VmHWM {hwm:6.0f} MB (target <= {target}) {verdict}"
            )
        return ok
    finally:
        stack.stop()


def start_postgres(directory: Path) -> str:
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "postgres.sh"), "start", str(directory), str(free_port())],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PG_DURABLE": "1"},
    )
    if result.returncode != 0:
        raise SystemExit(f"scripts/postgres.sh could not start PostgreSQL:\n{result.stderr}")
    return result.stdout.strip()


async def main() -> int:
    data = make_csv(ROWS, domain="memory.example.org")
    print(f"memory check: one {ROWS:,}-row CSV ({len(data) / 1e6:.0f} MB), upload -> COMPLETED")
    print(f"machine load before: {machine_load()}")
    ok = True
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis() as redis:
        os.chmod(tmp, 0o755)  # the postgres user must reach its data directory inside
        sqlite_dir = Path(tmp) / "sqlite"
        sqlite_dir.mkdir()
        print("SQLite (embedded default):")
        ok = await measure(None, sqlite_dir, redis.url, data) and ok
        if os.environ.get("MEMORY_CHECK_POSTGRES") == "1":
            pg_dir = Path(tmp) / "pg"
            url = start_postgres(pg_dir)
            try:
                pg_data = Path(tmp) / "pgdata"
                pg_data.mkdir()
                print("PostgreSQL:")
                redis_url = redis.url.rsplit("/", 1)[0] + "/2"
                ok = await measure(url, pg_data, redis_url, data) and ok
            finally:
                subprocess.run(
                    ["bash", str(ROOT / "scripts" / "postgres.sh"), "stop", str(pg_dir)],
                    capture_output=True,
                    check=False,
                )
    print(f"machine load after: {machine_load()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
