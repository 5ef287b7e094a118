"""Rows per second of inspect_file + iter_rows per format, beside a raw floor from the same run."""

# Run from the repository root: python -m bench.readers [rows]. "heap MB" is the peak of
# Python's heap while streaming (tracemalloc, a separate pass); calamine's own memory for an
# .xlsx sheet is outside it.

from __future__ import annotations

import csv
import io
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from python_calamine import CalamineWorkbook

from bench.datagen import make_csv, make_vcf, make_xlsx
from importing import ClientRow, inspect_file, iter_rows

TARGETS = {"csv": 60_000, "xlsx": 40_000, "vcf": 40_000}
# 100k iPhone-style cards take about 29 MB, over the 20 MB upload cap; measure all the same.
MAX_BYTES = 200_000_000
REPEATS = 3


def read_all(data: bytes) -> int:
    plan = inspect_file(data, max_rows=10_000_000, max_bytes=MAX_BYTES)
    ok = sum(1 for row in iter_rows(data, plan) if isinstance(row, ClientRow))
    if ok != plan.total_rows:
        raise SystemExit(f"only {ok} of {plan.total_rows} rows imported")
    return ok


def floor_csv(data: bytes) -> int:
    return sum(1 for _ in csv.reader(io.StringIO(data.decode()))) - 1


def floor_xlsx(data: bytes) -> int:
    with CalamineWorkbook.from_filelike(io.BytesIO(data)) as book:
        return sum(1 for _ in book.get_sheet_by_name(book.sheet_names[0]).iter_rows()) - 1


def floor_vcf(data: bytes) -> int:
    cards = 0
    for line in io.StringIO(data.decode()):
        if line.startswith("END:VCARD"):
            cards += 1
    return cards


def rate(fn: Callable[[bytes], int], data: bytes) -> float:
    """Median rows per second over REPEATS runs."""
    speeds = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        rows = fn(data)
        speeds.append(rows / (time.perf_counter() - started))
    return statistics.median(speeds)


def peak_heap_mb(data: bytes) -> float:
    tracemalloc.start()
    try:
        read_all(data)
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    makers = {"csv": make_csv, "xlsx": make_xlsx, "vcf": make_vcf}
    floors = {"csv": floor_csv, "xlsx": floor_xlsx, "vcf": floor_vcf}
    print(f"{n:,} rows per file")
    print(
        f"{'format':<6} {'MB':>6} {'floor rows/s':>13} {'ours rows/s':>12} {'ours/floor':>10} "
        f"{'target':>8} {'heap MB':>8}"
    )
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for kind, make in makers.items():
            path = Path(tmp) / f"clients.{kind}"
            path.write_bytes(make(n))
            data = path.read_bytes()
            floor = rate(floors[kind], data)
            ours = rate(read_all, data)
            target = TARGETS[kind]
            failed |= ours < target
            print(
                f"{kind:<6} {len(data) / 1e6:6.1f} {floor:13,.0f} {ours:12,.0f} "
                f"{ours / floor:10.2f} {target:8,} {peak_heap_mb(data):8.1f} "
                f"{'ok' if ours >= target else 'SLOW'}"
            )
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
