"""Real arq workers: in this process (burst or polling) or as a `caseload worker` subprocess."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis

from caseload.settings import Settings
from tests.support.api import Api
from workers.settings import build_worker


async def run_worker(settings: Settings) -> None:
    """A real arq worker in burst mode, in this process: runs what is queued, then returns."""
    worker = build_worker(
        settings,
        settings.redis_url or "",
        own_database=False,
        burst=True,
        handle_signals=False,
        poll_delay=0.05,
        cron_jobs=[],
    )
    try:
        await worker.main()
    finally:
        await worker.close()


@asynccontextmanager
async def worker_running(settings: Settings) -> AsyncIterator[None]:
    """A real arq worker polling in this process (it writes arq's health-check key) until exit."""
    worker = build_worker(
        settings,
        settings.redis_url or "",
        own_database=False,
        handle_signals=False,
        poll_delay=0.05,
        cron_jobs=[],
    )
    task = asyncio.create_task(worker.main())
    redis = aioredis.Redis.from_url(settings.redis_url or "")
    try:
        while not await redis.exists(worker.health_check_key):
            assert not task.done(), task
            await asyncio.sleep(0.02)
        yield
    finally:
        await redis.aclose()
        # Let a job that is finishing (say, a delivery batch committing) end on its own:
        # cancelling it mid-way makes arq's close() raise CancelledError.
        deadline = asyncio.get_running_loop().time() + 5
        while any(not job.done() for job in worker.tasks.values()):
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.02)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await worker.close()


def worker_process(api: Api) -> subprocess.Popen[bytes]:
    """`caseload worker` in a subprocess on the test database and Redis (short import lease)."""
    env = dict(os.environ)
    env.update(
        {
            "CASELOAD_DATABASE_URL": api.settings.resolved_database_url(),
            "CASELOAD_REDIS_URL": api.settings.redis_url or "",
            "CASELOAD_DATA_DIR": str(api.settings.data_dir),
            "CASELOAD_IMPORT_LEASE_SECONDS": "3",
            "CASELOAD_IMPORT_BATCH_ROWS": "500",
        }
    )
    return subprocess.Popen(
        [sys.executable, "-m", "caseload.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
