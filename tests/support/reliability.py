"""What fault and attack tests measured, for `make reliability` (scripts/reliability.py)."""

from __future__ import annotations

import json
import os

RELIABILITY_REPORT = "CASELOAD_RELIABILITY_REPORT"


def record_outcome(
    fault: str, happened: str, *, unit: str, expected: int, found: int, duplicates: int = 0
) -> None:
    """What a fault or attack test measured, for `make reliability` (scripts/reliability.py).

    Appends one JSON line to the file named by CASELOAD_RELIABILITY_REPORT, if it is set;
    a plain `make test` records nothing. `expected`/`found` are rows or messages; `found`
    counts distinct ones, `duplicates` the extra copies. No PHI: counts and words only.
    """
    path = os.environ.get(RELIABILITY_REPORT)
    if not path:
        return
    line = {
        "test": os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0],
        "fault": fault,
        "happened": happened,
        "unit": unit,
        "expected": expected,
        "found": found,
        "duplicates": duplicates,
        "lost": max(expected - found, 0),
    }
    with open(path, "a", encoding="utf-8") as report:
        report.write(json.dumps(line) + "\n")
