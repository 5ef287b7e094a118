"""The import job and its sweeper: resumable, leased, retried when the database blinks."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from arq import Retry

from models import ClientImport
from resolvers.effects import Job, import_job_id, import_wait_job_id
from resolvers.imports.client_imports import stalled_imports
from resolvers.imports.runner import LeaseLost, fail, run_import
from workers.outages import skips_outages

log = logging.getLogger(__name__)

MAX_TRIES = 6
STALL_SECONDS = 5
STOPPED_UNEXPECTEDLY = (
    "The import stopped unexpectedly. Start it again, or contact support if it keeps failing."
)
SLOT_WAIT_SECONDS = 0.25


@dataclass
class ImportSlots:
    """Imports this worker process may still start, and those it runs now (arq gives each job a
    copy of the context, so they live in an object the jobs share)."""

    free: int
    running: set[str] = field(default_factory=set)


async def run_import_job(ctx: dict[str, Any], import_id: str) -> str:
    slots: ImportSlots = ctx["import_slots"]
    if import_id in slots.running:  # a second job for it (the sweeper's) met the first here
        return "already-running-here"
    if slots.free <= 0:
        # Back to the queue under another name: the same work, but no result is kept for the
        # many short waits.
        await ctx["services"].queue.enqueue(
            Job.RUN_IMPORT_LATER,
            import_id,
            job_id=import_wait_job_id(import_id),
            defer_seconds=SLOT_WAIT_SECONDS,
        )
        return "waiting-for-a-slot"  # if that enqueue failed, the sweeper queues it again
    slots.free -= 1
    slots.running.add(import_id)
    try:
        return await _run(ctx, import_id)
    finally:
        slots.free += 1
        slots.running.discard(import_id)


async def _run(ctx: dict[str, Any], import_id: str) -> str:
    services = ctx["services"]
    job_id = UUID(import_id)
    try:
        # Nothing in this process runs it now, so a lease in this worker's name is left over
        # from an attempt that failed (say, the database went away): take it back at once.
        return await run_import(services, job_id, ctx["worker_id"], reclaim=True)
    except LeaseLost:
        log.warning("import %s: lease taken over by another worker", import_id)
        return "lease-lost"
    except Exception as error:  # noqa: BLE001 - retried, then recorded as FAILED
        tries = ctx.get("job_try", 1)
        log.warning("import %s failed (try %d): %s", import_id, tries, type(error).__name__)
        try:
            await ClientImport.filter(id=job_id, lease_owner=ctx["worker_id"]).update(
                lease_expires_at=datetime.now(UTC)
            )
            if tries >= MAX_TRIES:
                await fail(services, job_id, STOPPED_UNEXPECTEDLY)
                return "failed"
        except Exception:  # noqa: BLE001 - the database may still be away; the retry copes
            log.warning("import %s: could not record the failure yet", import_id)
        raise Retry(defer=min(2 * tries, 10)) from None


@skips_outages
async def sweep_imports(ctx: dict[str, Any]) -> int:
    """Queue imports that no worker holds: never started, or their worker died."""
    queued = 0
    for import_id, generation in await stalled_imports(STALL_SECONDS):
        if await ctx["services"].queue.enqueue(
            Job.RUN_IMPORT, str(import_id), job_id=import_job_id(import_id, generation)
        ):
            queued += 1
    return queued
