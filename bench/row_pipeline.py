"""Microseconds per row of the pure import pipeline (no database) per format and data mix."""

# Run from the repository root: python -m bench.row_pipeline [rows] [repeats] [only].
# CPU time of this process (steadier than the wall clock on a shared machine). Stages, each
# the best of `repeats` runs on the same bytes:
#   inspect  inspect_file (sniff, header, row count), as the upload request does;
#   read     the reader's raw records only (CSV records, calamine rows, parsed vCards);
#   rows     iter_rows to the end: read + validate + normalize into ClientRow / RowError;
#   search   resolvers.names.search_fields for every ClientRow (what each insert derives);
#   total    rows + search, the worker's Python cost per row before the database.
# "realistic" is bench.datagen's realistic mix (many names, non-ASCII, international and
# extension phones, IDN e-mails, 5% bad rows); "uniform" is the benchmark's old easy file.

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

import importing.fields
import resolvers.names
from bench.datagen import (
    HEADERS,
    client_records,
    make_csv,
    make_realistic_csv,
    make_vcf_from,
    realistic_records,
    xlsx_from_sheets,
)
from importing import ClientRow, inspect_file, iter_rows
from importing.csv_reader import _data_rows
from importing.source import source_of
from importing.vcard_lines import cards
from importing.vcard_reader import _parse
from importing.xlsx_reader import _numbered, _open, _rows
from resolvers.names import search_fields

MAX_BYTES = 500_000_000
Records = Callable[..., Iterator[list[str]]]


def make_xlsx_from(records: Iterable[list[str]]) -> bytes:
    """An .xlsx of HEADERS and records; an all-digit phone is stored as a number (TheraNest)."""
    rows: list[list[Any]] = [list(HEADERS)]
    for record in records:
        digits = "".join(ch for ch in record[5] if ch.isdigit())
        plain = record[5].replace("(", "").replace(")", "").replace("-", "").replace(" ", "")
        phone: Any = int(digits) if digits and plain == digits else record[5]
        rows.append([*record[:5], phone, *record[6:]])
    return xlsx_from_sheets({"Clients": rows})


def files(n: int) -> dict[tuple[str, str], bytes]:
    def recs(kind: str) -> Iterator[list[str]]:
        return realistic_records(n) if kind == "realistic" else client_records(n)

    return {
        ("csv", "realistic"): make_realistic_csv(n),
        ("csv", "uniform"): make_csv(n),
        ("xlsx", "realistic"): make_xlsx_from(recs("realistic")),
        ("xlsx", "uniform"): make_xlsx_from(recs("uniform")),
        ("vcf", "realistic"): make_vcf_from(recs("realistic")),
        ("vcf", "uniform"): make_vcf_from(recs("uniform")),
    }


def read_only(kind: str, raw: bytes, plan: Any) -> int:
    count = 0
    data = source_of(raw)
    if kind == "csv":
        for _ in _data_rows(data, plan.layout):
            count += 1
    elif kind == "xlsx":
        layout = plan.layout
        with _open(data) as workbook:
            rows = islice(_rows(workbook, layout.sheet or ""), layout.header_index + 1, None)
            for _ in _numbered(rows, layout.header_index + 1):
                count += 1
    else:
        for card, group in cards(data, "utf-8"):
            if not group:
                _parse(card, False)
                count += 1
    return count


def forget() -> None:
    """Empty the process-wide caches, so each run sees every value for the first time, as an
    import of a new file does (a cache still pays for what recurs within the file)."""
    for module in (importing.fields, resolvers.names):
        for value in vars(module).values():
            # A cache of one entry holds a table built once per process, not values.
            if callable(getattr(value, "cache_clear", None)) and value.cache_info().maxsize != 1:
                value.cache_clear()


def best(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        forget()
        started = time.process_time()
        fn()
        times.append(time.process_time() - started)
    return min(times)


def measure(kind: str, data: bytes, repeats: int) -> dict[str, float]:
    plan = inspect_file(data, max_rows=10_000_000, max_bytes=MAX_BYTES)
    total = plan.total_rows
    built: list[Any] = []

    def rows() -> None:
        built[:] = list(iter_rows(data, plan))

    def search() -> None:
        for row in built:
            if isinstance(row, ClientRow):
                search_fields(row.first_name, row.last_name, row.preferred_name, row.email)

    figures = {
        "inspect": best(lambda: inspect_file(data, max_rows=10_000_000, max_bytes=MAX_BYTES), 1),
        "read": best(lambda: read_only(kind, data, plan), repeats),
        "rows": best(rows, repeats),
    }
    figures["search"] = best(search, repeats)
    figures["total"] = figures["rows"] + figures["search"]
    return {stage: seconds * 1e6 / total for stage, seconds in figures.items()}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    only = sys.argv[3] if len(sys.argv) > 3 else ""  # "csv", "vcf uniform": those files only
    stages = ("inspect", "read", "rows", "search", "total")
    print(f"{n} rows, best of {repeats}; microseconds per row")
    print(f"{'file':<16}" + "".join(f"{s:>9}" for s in stages))
    for (kind, mix), data in files(n).items():
        if only not in f"{kind} {mix}":
            continue
        figures = measure(kind, data, repeats)
        print(f"{kind + ' ' + mix:<16}" + "".join(f"{figures[s]:9.2f}" for s in stages))


if __name__ == "__main__":
    main()
