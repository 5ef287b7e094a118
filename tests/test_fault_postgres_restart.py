"""PostgreSQL restarted mid-import: the worker retries, resumes at its checkpoint, counts exactly.

Runs on every `make test`, SQLite or not: the test starts its own throwaway PostgreSQL with
scripts/postgres.sh (it fails, never skips, when the server binaries are missing), an API
(uvicorn) and a worker (`caseload worker`) as real processes on it, and the session's Redis.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import IO

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from caseload.embedded_redis import EmbeddedRedis, free_port
from caseload.settings import Settings
from tests.support import (
    REPO,
    Api,
    add_client,
    follow_confirmation,
    import_status,
    many,
    read_mail,
    record_outcome,
    sign_up_provider,
    start_import,
)

pytestmark = pytest.mark.slow


POSTGRES_SH = REPO / "scripts" / "postgres.sh"
TOTAL = 20_000
BATCH_ROWS = 500
DOWN_SECONDS = 6  # longer than the sweepers' 5-second period, so one runs in the outage
FINISH_WITHIN = 60.0


def _postgres(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(POSTGRES_SH), *args], capture_output=True, text=True, check=False, timeout=120
    )


@contextmanager
def throwaway_postgres() -> Iterator[tuple[Path, str]]:
    """A PostgreSQL of our own (its directory and URL), deleted afterwards."""
    parent = Path(tempfile.mkdtemp(prefix="caseload-pg-fault-"))
    parent.chmod(0o755)  # as root the server runs as `postgres`, which must reach its directory
    directory = parent / "pg"
    try:
        failures: list[str] = []
        url = ""
        for _ in range(3):  # the free port may be taken before the server binds it
            started = _postgres("start", str(directory), str(free_port()))
            if started.returncode == 0:
                url = started.stdout.strip()
                break
            failures.append(started.stderr[-1500:])
            _postgres("stop", str(directory))
        assert url, "scripts/postgres.sh could not start PostgreSQL:\n" + "\n".join(failures)
        yield directory, url
    finally:
        _postgres("stop", str(directory))
        shutil.rmtree(parent, ignore_errors=True)


class Processes:
    """The API and worker processes of the test, with their output kept in files."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.running: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        output = (self.logs / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, *args], cwd=REPO, env=self.env, stdout=output, stderr=output
        )
        self.running.append((process, output))
        return process

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for process, _ in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, output in self.running:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            output.close()


async def _wait_ready(base: str, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            try:
                # the API is up once it reaches the database and Redis (workers start after it)
                checks = (await http.get(f"{base}/readyz")).json()
                if checks.get("database") and checks.get("redis"):
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"the API at {base} did not become ready")


async def _database_counts(url: str, import_id: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        # an imported row is a list entry with its own profile (no account until accepted)
        imported = "FROM provider_clients WHERE email LIKE '%@restart.example'"
        return {
            "entries": await conn.fetchval(f"SELECT count(*) {imported}"),
            "distinct_emails": await conn.fetchval(f"SELECT count(DISTINCT email) {imported}"),
            "clients": await conn.fetchval(
                f"SELECT count(*) FROM clients WHERE id IN (SELECT client_id {imported})"
            ),
            "list_entries": await conn.fetchval(
                "SELECT count(*) FROM provider_clients WHERE source_import_id = $1", import_id
            ),
            "distinct_list_clients": await conn.fetchval(
                "SELECT count(DISTINCT client_id) FROM provider_clients"
                " WHERE source_import_id = $1",
                import_id,
            ),
            "unsent_messages": await conn.fetchval(
                "SELECT count(*) FROM outbox_messages WHERE status <> 'SENT'"
            ),
        }
    finally:
        await conn.close()


async def _mail_to(mail_dir: Path, address: str, limit: float = 30.0) -> EmailMessage:
    """The first e-mail that reached `address`, waiting for it up to `limit` seconds."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        for path in sorted(mail_dir.glob("*.eml")):
            message = read_mail(path)
            if message["To"] == address:
                return message
        await asyncio.sleep(0.1)
    raise AssertionError(f"no e-mail reached {address} within {limit} s")


async def _delivered(mail_dir: Path, address: str, limit: float = 30.0) -> int:
    """How many e-mails reached `address` once one has (or the limit passed) and 1 s more."""
    deadline = time.monotonic() + limit

    def count() -> int:
        return sum(
            f"To: {address}" in path.read_text(errors="replace") for path in mail_dir.glob("*.eml")
        )

    while time.monotonic() < deadline and count() == 0:
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # a second copy would come right behind the first
    return count()


def _sweepers_ran(worker_log: str, import_id: str) -> bool:
    """Both sweepers finished a run (arq logs `← cron:NAME ● result`) after the outage."""
    outage = worker_log.find(f"import {import_id} failed (try 1)")
    after = worker_log[outage:] if outage >= 0 else ""
    return all(f"← cron:{name} ●" in after for name in ("sweep_outbox", "sweep_imports"))


async def test_postgres_restart_mid_import_finishes_with_exact_counts(
    redis_server: EmbeddedRedis,
) -> None:
    redis = aioredis.from_url(redis_server.url)
    await redis.flushall()  # no job of another test reaches this worker
    await redis.aclose()
    with (
        throwaway_postgres() as (pg_dir, database_url),
        tempfile.TemporaryDirectory(prefix="caseload-pg-fault-data-") as data,
    ):
        port = free_port()
        settings = Settings(
            data_dir=Path(data),
            database_url=database_url,
            redis_url=redis_server.url,
            port=port,
            public_url=f"http://127.0.0.1:{port}",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("CASELOAD_")}
        env.update(
            CASELOAD_DATABASE_URL=database_url,
            CASELOAD_REDIS_URL=redis_server.url,
            CASELOAD_DATA_DIR=data,
            CASELOAD_PUBLIC_URL=settings.public_url,
            CASELOAD_IMPORT_BATCH_ROWS=str(BATCH_ROWS),
        )
        migrated = subprocess.run(
            [sys.executable, "-m", "caseload.cli", "migrate"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert migrated.returncode == 0, migrated.stderr[-3000:]
        processes = Processes(env, Path(data))
        try:
            base = f"http://127.0.0.1:{port}"
            processes.start(
                "api",
                *("-m", "uvicorn", "caseload.app:create_app", "--factory"),
                *(
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                    "--no-proxy-headers",
                ),
            )
            await _wait_ready(base)
            async with httpx.AsyncClient(timeout=60) as http:
                api = Api(url=base, settings=settings, http=http)
                token, _ = await sign_up_provider(
                    api, email="before-restart@example.com", verified=False
                )
                # The worker delivers the provider's confirmation, which the provider follows
                # (importing needs a confirmed e-mail); then the import starts.
                worker = processes.start("worker", "-m", "caseload.cli", "worker")
                await follow_confirmation(
                    api, await _mail_to(settings.mail_dir, "before-restart@example.com")
                )
                started = await start_import(
                    api, token, many(TOTAL, domain="restart.example"), sendInvitations=False
                )
                assert started["__typename"] == "StartClientImportSuccess", started
                import_id = started["clientImport"]["id"]
                deadline = time.monotonic() + 60
                while True:
                    job = await import_status(api, token, import_id)
                    if job["processedRows"] > 0 or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.02)
                at_restart = job["processedRows"]
                assert 0 < at_restart < TOTAL, (job, processes.log("worker")[-3000:])

                restarted = await asyncio.to_thread(
                    _postgres, "restart", str(pg_dir), str(DOWN_SECONDS)
                )
                assert restarted.returncode == 0, restarted.stderr[-3000:]
                back_at = time.monotonic()
                # The API reconnects too: its answers are the ones polled here.
                while time.monotonic() - back_at < FINISH_WITHIN:
                    job = await import_status(api, token, import_id)
                    if job["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
                        break
                    await asyncio.sleep(0.25)
                took = time.monotonic() - back_at
                # Mail after the outage: queued before it (the provider's confirmation) and
                # after it (an invitation), each delivered once by the same worker.
                added = await add_client(api, token, email="after-restart@example.org")
                assert added["__typename"] == "AddClientSuccess", added
                mail_dir = settings.mail_dir
                delivered = [
                    await _delivered(mail_dir, "before-restart@example.com"),
                    await _delivered(mail_dir, "after-restart@example.org"),
                ]
                # The sweepers (arq cron jobs, every 5 s) work again after the outage.
                sweeper_deadline = time.monotonic() + 15
                while time.monotonic() < sweeper_deadline and not _sweepers_ran(
                    processes.log("worker"), import_id
                ):
                    await asyncio.sleep(0.25)
            worker_log = processes.log("worker")
            worker_alive = worker.poll() is None
        finally:
            processes.stop()
        assert job["status"] == "COMPLETED", (job, worker_log[-3000:])
        assert job["processedRows"] == TOTAL and job["createdCount"] == TOTAL, job
        assert job["duplicateCount"] == 0 and job["errorCount"] == 0, job
        assert job["linkedCount"] == 0 and job["alreadyInListCount"] == 0, job
        # The outage reached the running job, and arq retried it (the counts show it resumed
        # at its checkpoint: a batch run twice would have doubled them).
        outage = worker_log.find(f"import {import_id} failed (try 1)")
        assert outage >= 0, worker_log[-3000:]
        assert _sweepers_ran(worker_log, import_id), worker_log[outage:][-3000:]
        # A sweeper that met the outage said so in one line, without a traceback.
        assert "skipped: database or Redis unreachable" in worker_log, worker_log[outage:][-3000:]
        assert "cron:sweep_outbox failed" not in worker_log, worker_log[outage:][-3000:]
        assert "cron:sweep_imports failed" not in worker_log, worker_log[outage:][-3000:]
        assert worker_alive, "the worker process died with the database"
        # The retry takes its own lease back at once instead of waiting for it to run out.
        assert took < settings.import_lease_seconds, (took, worker_log[outage:][-3000:])
        counts = await _database_counts(database_url, import_id)
    assert counts == {
        "entries": TOTAL,
        "distinct_emails": TOTAL,
        "clients": TOTAL,
        "list_entries": TOTAL,
        "distinct_list_clients": TOTAL,
        "unsent_messages": 0,
    }
    assert delivered == [1, 1]
    doubled = (counts["entries"] - counts["distinct_emails"]) + (
        counts["list_entries"] - counts["distinct_list_clients"]
    )
    record_outcome(
        "PostgreSQL restarted mid-import",
        f"PostgreSQL stopped at {at_restart:,}/{TOTAL:,} rows, down {DOWN_SECONDS} s → "
        f"worker retried and finished {took:.0f} s after it was back; "
        f"{counts['clients']:,}/{TOTAL:,} clients, "
        f"{doubled} duplicates; "
        f"sweepers ran again; mail before and after the outage delivered {sum(delivered)}/2",
        unit="rows",
        expected=TOTAL,
        found=min(counts["distinct_emails"], counts["distinct_list_clients"]),
        duplicates=doubled,
    )
