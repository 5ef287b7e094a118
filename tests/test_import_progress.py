"""Live import progress over graphql-transport-ws, and resuming after a worker is killed."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from models import Client, ClientImport, OutboxMessage, ProviderClient, User
from tests.support import (
    Api,
    many,
    record_outcome,
    run_worker,
    sign_up_provider,
    start_import,
    subscribe,
    worker_process,
)

PROGRESS = """subscription($id: ID!) { clientImportProgress(id: $id) {
  id status processedRows totalRows createdCount } }"""


async def test_progress_events_then_completion(api: Api) -> None:
    settings = api.settings.model_copy(update={"import_batch_rows": 100})
    token, _ = await sign_up_provider(api)
    result = await start_import(api, token, many(450))
    import_id = result["clientImport"]["id"]
    async with subscribe(api, PROGRESS, {"id": import_id}, token) as sub:
        first = (await sub.next())["clientImportProgress"]
        assert first["status"] == "QUEUED" and first["processedRows"] == 0
        await run_worker(settings)
        events = [e["clientImportProgress"] for e in await sub.rest()]
    processed = [e["processedRows"] for e in events]
    assert processed == sorted(processed)
    assert {100, 200, 300, 400, 450} <= set(processed)
    assert events[-1]["status"] == "COMPLETED" and events[-1]["createdCount"] == 450

    # a late subscriber to a finished import gets one event, then completion
    async with subscribe(api, PROGRESS, {"id": import_id}, token) as late:
        assert (await late.next())["clientImportProgress"]["status"] == "COMPLETED"
        assert await late.rest() == []


async def test_a_worker_started_later_still_reports_to_an_early_subscriber(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    result = await start_import(api, token, many(500))
    async with subscribe(api, PROGRESS, {"id": result["clientImport"]["id"]}, token) as sub:
        assert (await sub.next())["clientImportProgress"]["status"] == "QUEUED"
        worker = asyncio.create_task(run_worker(api.settings))
        events = await sub.rest()
        await worker
    assert events[-1]["clientImportProgress"]["status"] == "COMPLETED"
    assert events[-1]["clientImportProgress"]["processedRows"] == 500


async def test_nobody_else_can_watch(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    other, _ = await sign_up_provider(api)
    result = await start_import(api, token, many(3))
    async with subscribe(api, PROGRESS, {"id": result["clientImport"]["id"]}, other) as sub:
        message = await sub.message()
        assert message["type"] == "next"
        assert message["payload"]["data"] is None
        assert message["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        assert (await sub.message())["type"] == "complete"


@pytest.mark.slow
async def test_killed_worker_is_replaced_and_the_import_finishes_exactly(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    total = 20_000
    result = await start_import(api, token, many(total))
    import_id = result["clientImport"]["id"]
    first = worker_process(api)
    try:
        for _ in range(600):
            job = await ClientImport.get(id=import_id)
            if job.processed_rows >= 1000:
                break
            await asyncio.sleep(0.01)
        assert 0 < job.processed_rows < total, "the import finished before the kill"
        killed_at_row = job.processed_rows
        readers = _row_readers_of(first.pid)
        if api.settings.resolved_database_url().startswith("postgres"):
            assert readers == [], "on PostgreSQL the worker reads the rows itself"
        else:
            assert readers, "a 20,000-row import on SQLite is read in a child process"
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        for _ in range(100):  # the orphaned reader meets the broken pipe and exits
            if not any(_alive(pid) for pid in readers):
                break
            await asyncio.sleep(0.05)
        assert not any(_alive(pid) for pid in readers), "the row reader outlived its worker"
    finally:
        if first.poll() is None:
            first.kill()
    killed_at = time.monotonic()
    second = worker_process(api)
    try:
        while time.monotonic() - killed_at < 60:
            job = await ClientImport.get(id=import_id)
            if job.status.value == "COMPLETED":
                break
            await asyncio.sleep(0.2)
        took = time.monotonic() - killed_at
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)
    assert job.status.value == "COMPLETED", (
        f"not done a minute after the kill: {job.processed_rows}"
    )
    assert job.processed_rows == total
    assert job.created_count == total
    assert job.duplicate_count == 0 and job.error_count == 0
    assert await Client.all().count() == total
    # one entry per address; no account is made until the person accepts
    emails = await ProviderClient.filter(source_import_id=import_id).values_list("email", flat=True)
    assert len(set(emails)) == total
    assert not await User.filter(role="CLIENT").exists()
    assert await ProviderClient.filter(source_import_id=import_id).count() == total
    assert await OutboxMessage.filter(kind="email.invitation").count() == total
    entries = await ProviderClient.filter(source_import_id=import_id).count()
    doubled = await Client.all().count() - total
    record_outcome(
        "worker SIGKILLed mid-import",
        f"worker SIGKILLed at {killed_at_row:,}/{total:,} rows → a new worker finished "
        f"{took:.0f} s after the kill; {entries:,}/{total:,} clients, {doubled} duplicates",
        unit="rows",
        expected=total,
        found=entries,
        duplicates=doubled,
    )


def _row_readers_of(parent: int) -> list[int]:
    """Pids of the child processes reading an import's rows for this worker process."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmd:
                line = cmd.read()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"importing.child_rows" in line:
            found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    """A process still running (a zombie, dead but not yet reaped by init, does not count)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
