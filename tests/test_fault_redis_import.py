"""Redis down while an import is started: the API still takes it, the worker runs it once it's back."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter

import pytest

from caseload.embedded_redis import EmbeddedRedis
from models import Client, ClientImport, OutboxMessage, OutboxStatus, ProviderClient
from tests.support import (
    Api,
    import_status,
    mail_files,
    many,
    read_mail,
    record_outcome,
    sign_up_provider,
    start_import,
    worker_process,
)

pytestmark = pytest.mark.slow


TOTAL = 300
DOMAIN = "redis-outage.example"


async def test_import_started_while_redis_is_down_runs_exactly_once_redis_is_back(
    api: Api, redis_server: EmbeddedRedis
) -> None:
    token, _ = await sign_up_provider(api)
    redis_server.stop()
    try:
        # The upload and its job row need only the database: the API takes the import and
        # says it is queued; the job could not be put on the queue, which the sweeper mends.
        asked_at = time.monotonic()
        started = await start_import(api, token, many(TOTAL, domain=DOMAIN))
        answered_in = time.monotonic() - asked_at
        assert started["__typename"] == "StartClientImportSuccess", started
        import_id = started["clientImport"]["id"]
        assert started["clientImport"]["status"] == "QUEUED"
        assert started["clientImport"]["totalRows"] == TOTAL
        during = await import_status(api, token, import_id)
        assert during["status"] == "QUEUED" and during["processedRows"] == 0
        ready = await api.http.get(f"{api.url}/readyz")
        assert ready.status_code == 503 and ready.json()["redis"] is False
    finally:
        redis_server.restart()

    worker = worker_process(api)  # its import sweeper finds the job nobody queued
    try:
        back_at = time.monotonic()
        while time.monotonic() - back_at < 60:
            job = await ClientImport.get(id=import_id)
            unsent = await OutboxMessage.exclude(status=OutboxStatus.SENT).count()
            if job.status.value in ("FAILED", "CANCELLED") or (
                job.status.value == "COMPLETED" and unsent == 0
            ):
                break
            await asyncio.sleep(0.2)
        took = time.monotonic() - back_at
        await asyncio.sleep(1.0)  # a repeated delivery would land right after the first
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)
    assert job.status.value == "COMPLETED", job.failure_reason
    assert job.processed_rows == job.created_count == TOTAL
    assert job.duplicate_count == 0 and job.error_count == 0
    assert await Client.filter(provider_links__email__endswith=f"@{DOMAIN}").count() == TOTAL
    assert await ProviderClient.filter(source_import_id=import_id).count() == TOTAL

    invitations = await OutboxMessage.filter(kind="email.invitation").count()
    assert invitations == TOTAL
    assert await OutboxMessage.exclude(status=OutboxStatus.SENT).count() == 0
    received = Counter(str(read_mail(path)["To"]) for path in mail_files(api.settings))
    imported = {to: n for to, n in received.items() if to.endswith(f"@{DOMAIN}")}
    assert len(imported) == TOTAL
    assert set(imported.values()) == {1}
    record_outcome(
        "Redis down while an import is started",
        f"startClientImport answered QUEUED in {answered_in:.1f} s during the outage; the "
        f"sweeper queued it once Redis was back, all done in {took:.0f} s: "
        f"{job.created_count}/{TOTAL} clients, "
        f"{len(imported)}/{TOTAL} invitations delivered once",
        unit="messages",
        expected=TOTAL,
        found=len(imported),
        duplicates=sum(imported.values()) - len(imported),
    )
