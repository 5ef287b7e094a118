"""`make reliability`: the fault, fuzzing and PHI-canary tests, then one table of what happened.

Runs the tests with pytest on SQLite (the default test database) and, when scripts/postgres.sh
can start a throwaway server, again on PostgreSQL. Each test records what it measured (rows or
messages expected and found, duplicates) through tests.support.record_outcome into the file
named by CASELOAD_RELIABILITY_REPORT; pytest's JUnit XML gives each test's outcome. Nothing in
the table is written here: it is read from those two files.

Then `make load` (bench/load.py) runs once per database and adds one row: failed writes
count as lost, and any failed request or unfinished import makes the row fail.

Exit status: 0 only if every test ran and passed and nothing was lost or doubled.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from defusedxml import ElementTree

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_SH = ROOT / "scripts" / "postgres.sh"
REPORT_ENV = "CASELOAD_RELIABILITY_REPORT"

# (issue point, fault or attack, test node id), in the order of the table.
# Tests that start a database of their own whatever the run's test database is.
OWN_DATABASE = {
    "tests/test_fault_postgres_restart.py::test_postgres_restart_mid_import_finishes_with_exact_counts": "own PostgreSQL",
}  # fmt: skip
TESTS = [
    ("5a", "worker SIGKILLed mid-import", "tests/test_import_progress.py::test_killed_worker_is_replaced_and_the_import_finishes_exactly"),
    ("5b", "Redis down at commit (sign-up)", "tests/test_outbox.py::test_redis_down_at_commit_delays_but_never_loses_mail"),
    ("5b", "Redis down while a client is added", "tests/test_onboarding_e2e.py::test_redis_down_while_adding_a_client_delays_the_invitation_only"),
    ("5b", "Redis down while an import is started", "tests/test_fault_redis_import.py::test_import_started_while_redis_is_down_runs_exactly_once_redis_is_back"),
    ("5c", "PostgreSQL restarted mid-import", "tests/test_fault_postgres_restart.py::test_postgres_restart_mid_import_finishes_with_exact_counts"),
    ("5d", "SMTP server down", "tests/test_outbox.py::test_smtp_down_retries_with_backoff_then_delivers_once"),
    ("5d", "SMTP refusing, then recovering", "tests/test_invitation_campaigns.py::test_smtp_refusing_then_recovering_delivers_each_once"),
    ("5e", "worker SIGKILLed mid delivery batch", "tests/test_invitation_campaigns.py::test_a_worker_killed_mid_batch_loses_and_doubles_nothing"),
    ("6", "GraphQL fuzzing", "tests/test_graphql_fuzz.py::test_generated_operations_get_no_5xx_and_no_exception_text"),
    ("7", "PHI canary", "tests/test_phi_canary.py::test_canaries_reach_no_log_redis_url_or_email"),
    ("13.1", "concurrent writers beside a worker", "tests/test_concurrent_writes.py::test_concurrent_providers_add_clients_while_a_worker_sends_mail"),
    ("13.3", "worker SIGKILLed under caseload serve", "tests/test_serve_supervision.py::test_a_killed_worker_is_replaced_and_the_import_finishes"),
]  # fmt: skip
LOAD_POINT = "13.5"


@dataclass
class Row:
    backend: str
    point: str
    test: str
    outcome: str  # passed, failed, error, skipped, not run
    fault: str
    happened: str
    lost: str
    ok: bool


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bash() -> str:
    return shutil.which("bash") or "/bin/bash"


def start_postgres(directory: Path) -> tuple[str | None, str]:
    """A throwaway server (URL, or None and why not)."""
    reason = ""
    for _ in range(3):  # the free port may be taken before the server binds it
        result = subprocess.run(
            [_bash(), str(POSTGRES_SH), "start", str(directory), str(_free_port())],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode == 0:
            return result.stdout.strip(), ""
        reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
        stop_postgres(directory)
    return None, reason


def stop_postgres(directory: Path) -> None:
    subprocess.run(
        [_bash(), str(POSTGRES_SH), "stop", str(directory)], capture_output=True, check=False
    )


def run_pytest(label: str, work: Path, extra_env: dict[str, str]) -> list[Row]:
    report = work / f"{label}.jsonl"
    junit = work / f"{label}.xml"
    env = dict(os.environ)
    env.pop("CASELOAD_TEST_DATABASE_URL", None)
    env.update(extra_env)
    env[REPORT_ENV] = str(report)
    banner = f" reliability tests on {label} "
    sys.stdout.write(f"\n{banner:=^100}\n")
    sys.stdout.flush()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            f"--junitxml={junit}",
            *(test for _, _, test in TESTS),
        ],
        cwd=ROOT,
        env=env,
        check=False,
    )
    return _rows(label, _outcomes(junit), _records(report))


def _outcomes(junit: Path) -> dict[str, tuple[str, str]]:
    """node id -> (outcome, first line of the failure message)."""
    outcomes: dict[str, tuple[str, str]] = {}
    if not junit.exists():
        return outcomes
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        path = case.get("classname", "").replace(".", "/") + ".py"
        node = f"{path}::{case.get('name', '')}"
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            found = case.find(tag)
            if found is not None:
                outcome = "failed" if tag == "failure" else tag
                lines = (found.get("message") or tag).strip().splitlines() or [tag]
                message = lines[0][:300]
                break
        outcomes[node] = (outcome, message)
    return outcomes


def _records(report: Path) -> dict[str, list[dict[str, Any]]]:
    records: dict[str, list[dict[str, Any]]] = {}
    if report.exists():
        for line in report.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                records.setdefault(record["test"], []).append(record)
    return records


def _rows(
    label: str,
    outcomes: dict[str, tuple[str, str]],
    records: dict[str, list[dict[str, Any]]],
) -> list[Row]:
    rows: list[Row] = []
    for point, fault, test in TESTS:
        outcome, message = outcomes.get(test, ("not run", "the test did not run"))
        name = test.rsplit("::", 1)[1]
        message = f"{name}: {message}" if message else name
        found = records.get(test, [])
        database = OWN_DATABASE.get(test, label)
        if outcome == "passed" and not found:
            outcome, message = "no record", "passed but recorded no outcome"
        if outcome != "passed":
            rows.append(Row(database, point, name, outcome, fault, message, "unknown", False))
            continue
        for record in found:
            lost, doubled = int(record["lost"]), int(record["duplicates"])
            amount = f"{lost} {record['unit']}"
            if doubled:
                amount += f", {doubled} doubled"
            rows.append(
                Row(
                    database,
                    point,
                    name,
                    outcome,
                    record["fault"],
                    record["happened"],
                    amount,
                    lost == 0 and doubled == 0,
                )
            )
    return rows


def run_load(label: str, work: Path, database_url: str | None) -> list[Row]:
    """`make load` against a `caseload serve` it starts, summarised as one row."""
    banner = f" load test on {label} "
    sys.stdout.write(f"\n{banner:=^100}\n")
    sys.stdout.flush()
    summary_path = work / f"load-{label}.json"
    command = [sys.executable, "-m", "bench.load", "--json", str(summary_path)]
    if database_url:
        command += ["--database-url", database_url]
    subprocess.run(command, cwd=ROOT, check=False)
    return [load_row(label, summary_path)]


def load_row(label: str, summary_path: Path) -> Row:
    """The table row of one `make load` run, from the summary it wrote (or its absence)."""
    fault = (
        "load: 20 providers adding, 4 imports with invitations, clients messaging, "
        "100 subscriptions, hostile anonymous requests"
    )
    if not summary_path.exists():
        return Row(
            label, LOAD_POINT, "bench/load.py", "error", fault, "no summary", "unknown", False
        )
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    ops = summary["ops"]
    writes = [op for name, op in ops.items() if name.startswith(LOAD_WRITES)]
    failed_writes = sum(op["errors"] for op in writes)
    failed = sum(op["errors"] for op in ops.values())
    happened = (
        f"{sum(op['count'] for op in writes)} writes, {failed_writes} failed; "
        f"{sum(op['count'] for op in ops.values())} requests, {failed} failed; "
        f"addClient p99 {ops.get('addClient', {}).get('p99_ms', 0)} ms; "
        f"/healthz p99 {summary['healthz_p99_ms']} ms "
        f"(hostile in flight {summary['healthz_p99_hostile_ms']} ms); Redis clients <= "
        f"{summary['redis_clients_peak']} (API {summary['api_redis_connections_peak']}); "
        + "; ".join(summary["problems"])
    )
    return Row(
        label,
        LOAD_POINT,
        "bench/load.py",
        "passed" if not summary["problems"] else "failed",
        fault,
        happened,
        f"{failed_writes} writes",
        not summary["problems"],
    )


LOAD_WRITES = ("addClient", "sendMessage", "signUp", "verifyEmail", "startClientImport")


def print_table(rows: list[Row]) -> None:
    headers = ("#", "database", "fault or attack", "what happened", "lost", "result")
    wrap = 64
    cells: list[list[list[str]]] = []
    for row in rows:
        result = "ok" if row.ok and row.outcome == "passed" else row.outcome.upper()
        if row.outcome == "passed" and not row.ok:
            result = "LOST"
        cells.append(
            [
                [row.point],
                [row.backend],
                textwrap.wrap(row.fault, 26) or [""],
                textwrap.wrap(row.happened, wrap) or [""],
                textwrap.wrap(row.lost, 22) or [""],
                [result],
            ]
        )
    widths = [
        max(len(headers[i]), *(len(line) for cell in cells for line in cell[i]))
        for i in range(len(headers))
    ]

    def line(parts: list[str]) -> str:
        return "| " + " | ".join(p.ljust(w) for p, w in zip(parts, widths, strict=True)) + " |"

    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [rule, line(list(headers)), rule.replace("-", "=")]
    for cell in cells:
        height = max(len(column) for column in cell)
        for i in range(height):
            out.append(line([column[i] if i < len(column) else "" for column in cell]))
        out.append(rule)
    sys.stdout.write("\n".join(out) + "\n")


def main() -> int:
    rows: list[Row] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="caseload-reliability-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # as root, PostgreSQL runs as `postgres`, which must reach its dir
        rows += run_pytest("SQLite", work, {})
        rows += run_load("SQLite", work, None)
        pg_dir = work / "pg"
        url, reason = start_postgres(pg_dir)
        if url is None:
            notes.append(f"PostgreSQL run skipped: scripts/postgres.sh could not start ({reason})")
        else:
            try:
                rows += run_pytest("PostgreSQL", work, {"CASELOAD_TEST_DATABASE_URL": url})
                rows += run_load("PostgreSQL", work, url)
            finally:
                stop_postgres(pg_dir)
    sys.stdout.write(
        "\nReliability: faults (issue #7 point 5), fuzzing (6), PHI canary (7); "
        "writers, supervision and load (issue #13 points 1, 3, 5)\n"
    )
    print_table(rows)
    for note in notes:
        sys.stdout.write(f"note: {note}\n")
    failed = [row for row in rows if not (row.ok and row.outcome == "passed")]
    total_lost = sum(
        int(r.lost.split()[0]) for r in rows if r.outcome == "passed" and r.lost[0].isdigit()
    )
    if failed:
        sys.stdout.write(f"RELIABILITY FAILED: {len(failed)} of {len(rows)} rows not ok\n")
        return 1
    sys.stdout.write(
        f"reliability passed: {len(rows)} checks, {total_lost} rows or messages lost, "
        "nothing doubled\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
