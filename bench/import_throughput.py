"""Benchmark: client imports end to end, from the upload request to the COMPLETED event.

Through the real API and a real worker process, on SQLite and on PostgreSQL with durability on
(fsync, synchronous commit): a 100,000-row CSV both uniform and in a realistic mix (see
bench/datagen.py), XLSX and VCF; django-import-export measured in the same run on the same
files, in a virtual environment of its own (bench/peer.py); raw floors from the same run;
invitations on, timed until the last e-mail is delivered, through the `file` backend and
through SMTP to a local aiosmtpd; the latency of a 500-row import; a 1,000,000-row CSV with
the worker's and the API's peak memory.
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

from bench.datagen import (  # noqa: E402
    make_csv,
    make_existing_csv,
    make_realistic_csv,
    make_vcf,
    make_xlsx,
)
from bench.floors import eml_floor, postgres_floor, smtp_floor, sqlite_floor  # noqa: E402
from bench.peer import run_peer  # noqa: E402
from bench.stack import (  # noqa: E402
    FileInbox,
    Inbox,
    PeakRss,
    SmtpInbox,
    Stack,
    follow,
    machine_load,
    migrate,
    sign_up,
    stack_env,
    upload,
    wait_mails,
    wait_ready,
)
from caseload.embedded_redis import EmbeddedRedis, free_port  # noqa: E402

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "100000"))
BIG_ROWS = int(os.environ.get("BENCH_BIG_ROWS", "1000000"))
INVITE_ROWS = int(os.environ.get("BENCH_INVITE_ROWS", "2000"))
PEER_TARGET = 3.0  # the target: >= 3x django-import-export
NAMES = {"CSV": "clients.csv", "XLSX": "clients.xlsx", "VCF": "contacts.vcf"}


def line(label: str, figure: str, ratio: str = "") -> str:
    return f"| {label:<58} | {figure:>26} | {ratio:<44} |"


async def timed_import(
    stack: Stack,
    base: str,
    inbox: Inbox,
    data: bytes,
    name: str,
    *,
    before: bytes | None = None,
    mail_domain: str | None = None,
    mails: int = 0,
    worker_env: dict[str, str] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """One import by a new provider with a fresh worker; the clock runs from just before the
    upload request to COMPLETED (and, given mail_domain, to the last of `mails` e-mails)."""
    worker = stack.start_worker(**(worker_env or {}))
    token = await sign_up(base, inbox)  # the worker delivers the confirmation: it is up
    if before is not None:  # addresses already on the list, imported untimed
        job = await upload(base, token, before, "existing.csv", sendInvitations=False)
        await follow(base, token, job["id"])
    with PeakRss(worker.pid) as rss, PeakRss(stack.apis[0].pid) as api_rss:
        started = time.perf_counter()
        job = await upload(base, token, data, name, **options)
        events = await follow(base, token, job["id"])
        delivered = await wait_mails(inbox, mail_domain, mails) if mail_domain else None
    worker.terminate()
    try:
        worker.wait(20)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
    stack.workers.remove(worker)
    last = events[-1]
    if last["status"] != "COMPLETED" or last["processedRows"] != last["totalRows"]:
        raise RuntimeError(f"import ended {last}")
    progress = [e for e in events if e["processedRows"] > 0]
    seconds = last["at"] - started
    return {
        **last,
        "seconds": seconds,
        "rows_per_s": last["totalRows"] / seconds,
        "first_event_ms": (events[0]["at"] - started) * 1000,
        "first_progress_ms": (progress[0]["at"] - started) * 1000 if progress else float("nan"),
        "mail_seconds": (delivered - started) if delivered else float("nan"),
        "peak_mb": rss.peak,
        "api_peak_mb": api_rss.peak,
    }


def counts(result: dict[str, Any]) -> str:
    return (
        f"created {result['createdCount']:,}, linked {result['linkedCount']:,}, "
        f"duplicates {result['duplicateCount']:,}, errors {result['errorCount']:,}"
    )


async def run_database(
    label: str, database_url: str | None, redis_url: str, data_dir: Path
) -> tuple[list[str], list[str]]:
    lines: list[str] = []
    notes: list[str] = []
    env = stack_env(
        database_url,
        redis_url,
        data_dir,
        CASELOAD_MAX_UPLOAD_BYTES=str(200_000_000),
        CASELOAD_MAX_IMPORT_ROWS=str(max(BIG_ROWS, ROWS) + 1),
        CASELOAD_EMAIL_BACKEND="file",
    )
    migrate(env)
    stack = Stack(env)
    inbox = FileInbox(data_dir / "mail")
    postgres = bool(database_url and database_url.startswith("postgres"))
    try:
        base = stack.start_api()
        await wait_ready(base)
        tag = label.lower()
        uniform = make_csv(ROWS, domain=f"csv.{tag}.org")
        realistic = make_realistic_csv(ROWS, domain=f"mix.{tag}.org")
        existing = make_existing_csv(ROWS, domain=f"mix.{tag}.org")
        if postgres:
            assert database_url is not None
            floor = await postgres_floor(uniform, database_url)
            floor_name = "csv.reader + asyncpg COPY"
        else:
            floor = sqlite_floor(uniform)
            floor_name = "csv.reader + sqlite3 executemany"
        lines.append(line(f"{label}: raw floor, {floor_name}", f"{floor:,.0f} rows/s", "1.00"))
        peer_db = database_url if postgres else "sqlite"
        assert peer_db is not None
        peers: dict[str, float] = {}
        for kind, data in (("uniform", uniform), ("realistic", realistic)):
            peer = run_peer(data, peer_db)
            if peer is None:
                lines.append(line(f"{label}: django-import-export, {kind} CSV", "not measured"))
                continue
            peers[kind] = peer["rows_per_s"]
            lines.append(
                line(
                    f"{label}: django-import-export, {kind} CSV",
                    f"{peer['rows_per_s']:,.0f} rows/s",
                    f"{peer['rows_per_s'] / floor:.2f} of floor; stored {peer['stored']:,}",
                )
            )

        def versus(rate: float, kind: str = "uniform") -> str:
            peer_rate = peers.get(kind)
            ratio = f"{rate / peer_rate:.2f}x peer (target {PEER_TARGET:.0f}x)" if peer_rate else ""
            return f"{ratio}; {rate / floor:.2f} of floor"

        files: list[tuple[str, str, bytes, bytes | None]] = [
            ("CSV", "uniform", uniform, None),
            ("CSV", "realistic", realistic, existing),
            ("XLSX", "uniform", make_xlsx(ROWS, domain=f"xlsx.{tag}.org"), None),
            ("VCF", "uniform", make_vcf(ROWS, domain=f"vcf.{tag}.org"), None),
        ]
        for fmt, kind, data, before in files:
            result = await timed_import(
                stack, base, inbox, data, NAMES[fmt], before=before, sendInvitations=False
            )
            lines.append(
                line(
                    f"{label}: Caseload {fmt} {kind}, {ROWS:,} rows",
                    f"{result['rows_per_s']:,.0f} rows/s {result['seconds']:5.1f} s",
                    versus(result["rows_per_s"], kind if fmt == "CSV" else "uniform"),
                )
            )
            notes.append(
                f"{label} {fmt} {kind}: {counts(result)}; worker peak {result['peak_mb']:.0f} MB, "
                f"API peak {result['api_peak_mb']:.0f} MB"
            )
        small = await timed_import(
            stack,
            base,
            inbox,
            make_csv(500, domain=f"small.{tag}.org"),
            "small.csv",
            sendInvitations=False,
        )
        lines.append(
            line(
                f"{label}: 500-row CSV, request -> first event / COMPLETED",
                f"{small['first_event_ms']:.0f} ms / {small['seconds'] * 1000:.0f} ms",
                "targets 300 ms / 1,500 ms",
            )
        )
        if not postgres:
            lines += await invitations(stack, base, inbox, data_dir)
        if BIG_ROWS and not postgres:
            big = await timed_import(
                stack,
                base,
                inbox,
                make_csv(BIG_ROWS, domain=f"big.{tag}.org"),
                "big.csv",
                sendInvitations=False,
            )
            lines.append(
                line(
                    f"{label}: Caseload CSV uniform, {BIG_ROWS:,} rows",
                    f"{big['rows_per_s']:,.0f} rows/s {big['seconds']:5.1f} s",
                    f"worker peak {big['peak_mb']:.0f} MB (<= 300), API {big['api_peak_mb']:.0f} MB (<= 250)",
                )
            )
    finally:
        stack.stop()
    return lines, notes


async def invitations(stack: Stack, base: str, inbox: FileInbox, data_dir: Path) -> list[str]:
    """INVITE_ROWS rows with invitations on, upload request -> the last e-mail delivered."""
    lines: list[str] = []
    floor = eml_floor(INVITE_ROWS, data_dir / "floor-mail")
    lines.append(line("invitations: floor, render + write .eml", f"{floor:,.0f} mails/s", "1.00"))
    domain = "invite-file.org"
    result = await timed_import(
        stack,
        base,
        inbox,
        make_csv(INVITE_ROWS, domain=domain),
        "invite.csv",
        mail_domain=domain,
        mails=INVITE_ROWS,
        sendInvitations=True,
    )
    rate = INVITE_ROWS / result["mail_seconds"]
    lines.append(
        line(
            f"invitations: {INVITE_ROWS:,} rows, file backend, to last e-mail",
            f"{rate:,.1f} mails/s {result['mail_seconds']:5.1f} s",
            f"{rate / floor:.2f} of floor (target 0.70); COMPLETED at {result['seconds']:.1f} s",
        )
    )
    with SmtpInbox() as smtp:
        floor = await smtp_floor(INVITE_ROWS, smtp.port)
        lines.append(
            line("invitations: floor, aiosmtplib, one connection", f"{floor:,.0f} mails/s", "1.00")
        )
        domain = "invite-smtp.org"
        worker_env = {
            "CASELOAD_EMAIL_BACKEND": "smtp",
            "CASELOAD_SMTP_HOST": "127.0.0.1",
            "CASELOAD_SMTP_PORT": str(smtp.port),
        }
        result = await timed_import(
            stack,
            base,
            smtp,
            make_csv(INVITE_ROWS, domain=domain),
            "invite.csv",
            mail_domain=domain,
            mails=INVITE_ROWS,
            worker_env=worker_env,
            sendInvitations=True,
        )
        rate = INVITE_ROWS / result["mail_seconds"]
        lines.append(
            line(
                f"invitations: {INVITE_ROWS:,} rows, SMTP (aiosmtpd), to last e-mail",
                f"{rate:,.1f} mails/s {result['mail_seconds']:5.1f} s",
                f"{rate / floor:.2f} of floor (target 0.70); COMPLETED at {result['seconds']:.1f} s",
            )
        )
    return lines


def start_postgres(directory: Path) -> str | None:
    """A throwaway PostgreSQL with its durability defaults on (fsync, synchronous commit)."""
    script = ROOT / "scripts" / "postgres.sh"
    result = subprocess.run(
        ["bash", str(script), "start", str(directory), str(free_port())],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PG_DURABLE": "1"},
    )
    return result.stdout.strip() if result.returncode == 0 else None


async def main() -> None:
    lines: list[str] = []
    notes: list[str] = []
    load_before = machine_load()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis() as redis:
        os.chmod(tmp, 0o755)  # the postgres user must reach its data directory inside
        sqlite_dir = Path(tmp) / "sqlite"
        sqlite_dir.mkdir()
        # No URL: the embedded default, SQLite with the settings `make run` uses.
        more, more_notes = await run_database("SQLite", None, redis.url, sqlite_dir)
        lines += more
        notes += more_notes
        pg_dir = Path(tmp) / "pg"
        url = start_postgres(pg_dir)
        if url is None:
            lines.append(line("PostgreSQL", "not measured", "scripts/postgres.sh failed"))
        else:
            try:
                pg_data = Path(tmp) / "pgdata"
                pg_data.mkdir()
                more, more_notes = await run_database("PostgreSQL", url, redis.url, pg_data)
                lines += more
                notes += more_notes
            finally:
                subprocess.run(
                    ["bash", str(ROOT / "scripts" / "postgres.sh"), "stop", str(pg_dir)],
                    capture_output=True,
                    check=False,
                )
    print(
        "\nClient imports, end to end (upload request -> COMPLETED), one worker process; "
        "PostgreSQL with fsync and synchronous_commit on; peer = django-import-export 4.4.3 "
        "(use_bulk, skip_diff, batch_size 5000, force_init_instance; no validation, no dedup)"
    )
    print(f"machine load before: {load_before}")
    print(line("measure", "figure", "ratio (same run)"))
    print(line("-" * 58, "-" * 26, "-" * 44))
    for text in lines:
        print(text)
    for text in notes:
        print("  " + text)
    print(f"machine load after: {machine_load()}")


if __name__ == "__main__":
    started = time.perf_counter()
    asyncio.run(main())
    print(f"bench/import_throughput.py finished in {time.perf_counter() - started:.0f} s")
