"""Benchmark: client imports end to end, from the upload's answer to the COMPLETED event.

100,000-row CSV, XLSX (shared strings) and VCF through the real API and a real worker process,
on SQLite and on PostgreSQL; rows/s against a raw floor measured in the same run; the worker's
peak memory; a 1,000,000-row CSV; and the latency of a 500-row import.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.datagen import make_csv, make_vcf, make_xlsx  # noqa: E402
from bench.floors import postgres_floor, sqlite_floor  # noqa: E402
from bench.stack import (  # noqa: E402
    PeakRss,
    Stack,
    follow,
    migrate,
    sign_up,
    stack_env,
    upload,
    wait_ready,
)
from caseload.embedded_redis import EmbeddedRedis, free_port  # noqa: E402

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "100000"))
BIG_ROWS = int(os.environ.get("BENCH_BIG_ROWS", "1000000"))
TARGETS = {"CSV": 20_000, "XLSX": 12_000, "VCF": 12_000}
MAKERS = {"CSV": make_csv, "XLSX": make_xlsx, "VCF": make_vcf}
NAMES = {"CSV": "clients.csv", "XLSX": "clients.xlsx", "VCF": "contacts.vcf"}


async def timed_import(
    stack: Stack, base: str, data: bytes, name: str, expected: int, **options: Any
) -> dict[str, float]:
    """One import with a fresh worker; seconds from the upload's answer to COMPLETED."""
    worker = stack.start_worker()
    await asyncio.sleep(2.0)  # let the worker finish starting before the clock runs
    token = await sign_up(base)
    with PeakRss(worker.pid) as rss:
        job = await upload(base, token, data, name, **options)
        answered = time.perf_counter()
        events = await follow(base, token, job["id"])
    worker.terminate()
    try:
        worker.wait(20)
    except subprocess.TimeoutExpired:
        dump = subprocess.run(
            [str(Path(sys.executable).parent / "py-spy"), "dump", "--pid", str(worker.pid)],
            capture_output=True,
            text=True,
            check=False,
        )
        print("worker did not stop on SIGTERM:\n", dump.stdout[-4000:], file=sys.stderr)
        worker.kill()
        worker.wait()
    stack.workers.remove(worker)
    last = events[-1]
    if last["status"] != "COMPLETED" or last["createdCount"] != expected:
        raise RuntimeError(f"import ended {last}")
    progress = [e for e in events if e["processedRows"] > 0]
    return {
        "seconds": last["at"] - answered,
        "rows_per_s": expected / (last["at"] - answered),
        "first_event_ms": (events[0]["at"] - answered) * 1000,
        "first_progress_ms": (progress[0]["at"] - answered) * 1000 if progress else float("nan"),
        "peak_mb": rss.peak,
    }


async def run_database(
    label: str, database_url: str | None, redis_url: str, data_dir: Path
) -> list[str]:
    lines: list[str] = []
    env = stack_env(
        database_url,
        redis_url,
        data_dir,
        CASELOAD_MAX_UPLOAD_BYTES=str(200_000_000),
        CASELOAD_MAX_IMPORT_ROWS=str(max(BIG_ROWS, ROWS) + 1),
        CASELOAD_EMAIL_BACKEND="console",
    )
    migrate(env)
    stack = Stack(env)
    try:
        base = stack.start_api()
        await wait_ready(base)
        csv_data = make_csv(ROWS, domain=f"floor.{label.lower()}")
        if database_url and database_url.startswith("postgres"):
            floor = await postgres_floor(csv_data, database_url)
            floor_name = "asyncpg COPY"
        else:
            floor = sqlite_floor(csv_data)
            floor_name = "csv.reader + sqlite3 executemany"
        lines.append(f"{label}: raw floor ({floor_name}) {floor:,.0f} rows/s")
        for fmt, make in MAKERS.items():
            data = make(ROWS, domain=f"{fmt.lower()}.{label.lower()}")
            result = await timed_import(stack, base, data, NAMES[fmt], ROWS, sendInvitations=False)
            lines.append(
                f"{label:<10} {fmt:<5} {ROWS:>9,} rows {result['seconds']:6.1f} s "
                f"{result['rows_per_s']:8,.0f} rows/s  target {TARGETS[fmt]:>6,}  "
                f"ratio to floor {result['rows_per_s'] / floor:4.2f}  worker peak {result['peak_mb']:5.0f} MB"
            )
        small = await timed_import(
            stack, base, make_csv(500, domain=f"small.{label.lower()}"), "small.csv", 500
        )
        lines.append(
            f"{label:<10} 500-row CSV with invitations: first event {small['first_event_ms']:.0f} ms, "
            f"first batch {small['first_progress_ms']:.0f} ms, COMPLETED {small['seconds'] * 1000:.0f} ms "
            "(targets 300 ms / 1,500 ms)"
        )
        if BIG_ROWS and label == "SQLite":
            big = await timed_import(
                stack,
                base,
                make_csv(BIG_ROWS, domain="big.sqlite"),
                "big.csv",
                BIG_ROWS,
                sendInvitations=False,
            )
            lines.append(
                f"{label:<10} CSV   {BIG_ROWS:>9,} rows {big['seconds']:6.1f} s "
                f"{big['rows_per_s']:8,.0f} rows/s  worker peak {big['peak_mb']:5.0f} MB (target <= 400 MB)"
            )
    finally:
        stack.stop()
    return lines


def start_postgres(directory: Path) -> str | None:
    script = ROOT / "scripts" / "postgres.sh"
    result = subprocess.run(
        ["bash", str(script), "start", str(directory), str(free_port())],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else None


async def main() -> None:
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis() as redis:
        os.chmod(tmp, 0o755)  # the postgres user must reach its data directory inside
        sqlite_dir = Path(tmp) / "sqlite"
        sqlite_dir.mkdir()
        # No URL: the embedded default, SQLite with the settings `make run` uses.
        lines += await run_database("SQLite", None, redis.url, sqlite_dir)
        pg_dir = Path(tmp) / "pg"
        url = start_postgres(pg_dir)
        if url is None:
            lines.append("PostgreSQL: not measured (scripts/postgres.sh could not start a server)")
        else:
            try:
                pg_data = Path(tmp) / "pgdata"
                pg_data.mkdir()
                lines += await run_database("PostgreSQL", url, redis.url, pg_data)
            finally:
                subprocess.run(
                    ["bash", str(ROOT / "scripts" / "postgres.sh"), "stop", str(pg_dir)],
                    capture_output=True,
                    check=False,
                )
    print(
        "\nClient import throughput, end to end (upload answer -> COMPLETED), one worker process, "
        "invitations off for the throughput rows"
    )
    for line in lines:
        print(line)


if __name__ == "__main__":
    started = time.perf_counter()
    asyncio.run(main())
    print(f"bench/import_throughput.py finished in {time.perf_counter() - started:.0f} s")
