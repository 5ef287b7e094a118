"""Running an import: lease the job, stream its rows in batches, checkpoint, publish progress."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from itertools import chain, islice
from uuid import UUID

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F, Q

from importing import FileSource, Source, inspect_file, iter_rows
from importing.child_rows import rows_in_child
from importing.errors import ImportFileError
from importing.model import ClientField, ClientRow, ImportFormat, RowError
from importing.plans import plan_from_json
from models import ClientImport, ClientImportIssue, ImportStatus
from resolvers.bulk_sql import is_postgres
from resolvers.effects import (
    ClientsChanged,
    ImportProgress,
    Job,
    clients_channel,
    import_channel,
    outbox_batch_job_id,
)
from resolvers.imports.batches import BatchWriter, Prepared, prepare
from resolvers.imports.campaigns import TERMINAL as TERMINAL
from resolvers.imports.campaigns import close_if_done
from resolvers.imports.duplicates import DuplicateMemory
from resolvers.imports.files import forget_file, stored_file
from resolvers.ports import Services
from resolvers.unit_of_work import UnitOfWork, in_unit_of_work

log = logging.getLogger(__name__)

# Progress at least every PROGRESS_ROWS rows or PROGRESS_SECONDS, whichever comes first:
# a batch (one transaction and one event) is cut to whichever bound the last one suggests.
PROGRESS_ROWS = 1000
PROGRESS_SECONDS = 0.25
MIN_BATCH_ROWS = 50


# Formats read as a stream, which the child reader pays for (in one run on a quiet machine:
# realistic CSV 1.06-1.12x, vCard 1.21-1.29x); an XLSX sheet is loaded whole by calamine,
# in the child as well as here for the first batch: no faster, and ~90 MB more at 100,000 rows.
# On PostgreSQL the worker mostly waits for the database (100-200 us a row against 25-40 us of
# its own CPU), so a child saved nothing there and, with the server on the same two cores,
# cost 0-8% (same quiet run: CSV 0.92x twice, vCard 0.99x and 1.06x): only SQLite uses it.
_STREAMED = frozenset({ImportFormat.CSV, ImportFormat.VCF})


COUNTERS = (
    "processed_rows",
    "created_count",
    "linked_count",
    "already_in_list_count",
    "duplicate_count",
    "error_count",
    "warning_count",
)


async def claim(
    import_id: UUID, owner: str, lease_seconds: int, *, reclaim: bool = False
) -> ClientImport | None:
    """Take the job unless another live worker holds it or it is finished.

    reclaim: the caller knows no attempt of its own is running, so a lease still held in
    the owner's name is stale and may be taken back without waiting for it to expire.
    """
    now = datetime.now(UTC)
    free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    if reclaim:
        free |= Q(lease_owner=owner)
    taken = await ClientImport.filter(
        free,
        id=import_id,
        status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING],
    ).update(
        lease_owner=owner,
        lease_expires_at=now + timedelta(seconds=lease_seconds),
        status=ImportStatus.RUNNING,
    )
    if taken != 1:
        return None
    return await ClientImport.get(id=import_id)


def _take(items: Iterator[ClientRow | RowError], size: int, postgres: bool) -> Prepared:
    return prepare(list(islice(items, size)), postgres)


def _mapping(job: ClientImport) -> dict[ClientField, str] | None:
    return {ClientField(k): v for k, v in job.explicit_mapping.items()} or None


async def _finish(
    services: Services, job: ClientImport, status: ImportStatus, reason: str | None = None
) -> None:
    job.status = status
    job.finished_at = datetime.now(UTC)
    job.failure_reason = reason
    job.lease_owner = None
    job.lease_expires_at = None

    async def work(uow: UnitOfWork) -> None:
        await job.save(
            update_fields=[
                "status",
                "finished_at",
                "failure_reason",
                "lease_owner",
                "lease_expires_at",
            ],
            using_db=uow.conn,
        )
        if status is not ImportStatus.FAILED:  # a failed import keeps its file for a retry
            await forget_file(job.id, uow.conn)
        await close_if_done(uow.conn, job.id)  # no invitation was due, or the last went first
        await _refresh(job, uow.conn, INVITATION_COUNTERS)
        uow.publish(import_channel(job.id), ImportProgress.of(job))

    await in_unit_of_work(services, work)


async def _start(services: Services, job: ClientImport) -> None:
    """Stamp the first start and announce the running job to its subscribers."""

    async def work(uow: UnitOfWork) -> None:
        if job.started_at is None:
            job.started_at = datetime.now(UTC)
            await job.save(update_fields=["started_at"], using_db=uow.conn)
        uow.publish(import_channel(job.id), ImportProgress.of(job))

    await in_unit_of_work(services, work)


async def fail(services: Services, import_id: UUID, reason: str) -> None:
    """Record an import as FAILED, whoever held it; its file stays for a staff retry."""
    job = await ClientImport.get(id=import_id)
    await _finish(services, job, ImportStatus.FAILED, reason)


async def run_import(
    services: Services, import_id: UUID, owner: str, *, reclaim: bool = False
) -> str:
    """Run (or resume after the checkpoint) one import; safe to call twice (see claim)."""
    settings = services.settings
    job = await claim(import_id, owner, settings.import_lease_seconds, reclaim=reclaim)
    if job is None:
        return "not-claimed"
    if job.cancel_requested:
        await _finish(services, job, ImportStatus.CANCELLED)
        return job.status.value
    if job.dry_run and job.processed_rows:
        await _reset_counts(job)  # a dry run keeps its duplicate memory only in this process
    async with stored_file(job.id) as data:
        if data is None:
            await _finish(
                services, job, ImportStatus.FAILED, "The file is no longer stored. Upload it again."
            )
            return job.status.value
        return await _import_rows(services, job, data, owner)


async def _import_rows(services: Services, job: ClientImport, data: Source, owner: str) -> str:
    """Plan the file if it has no stored plan, then write its rows batch by batch."""
    settings = services.settings
    plan = plan_from_json(job.file_plan or {})
    try:
        if plan is None:  # stored by an older version: inspect again
            plan = await asyncio.to_thread(
                inspect_file,
                data,
                column_mapping=_mapping(job),
                max_rows=settings.max_import_rows,
                max_bytes=settings.max_upload_bytes,
            )
    except ImportFileError as error:
        await _finish(services, job, ImportStatus.FAILED, error.message)
        return job.status.value
    start = job.processed_rows
    region = settings.phone_region
    here = iter_rows(data, plan, start_after=start, phone_region=region)
    with ExitStack() as reading:
        rows: Iterator[ClientRow | RowError] = here
        if (
            isinstance(data, FileSource)
            and plan.format in _STREAMED
            and not is_postgres(ClientImport._meta.db)
            and plan.total_rows - start >= settings.import_child_reader_rows
        ):
            # Read and validated in a child process: its own core for about half the CPU
            # an import costs (see importing/child_rows.py). The first batch is read here
            # while the child starts, and the child begins after it.
            first = _first_batch_rows(settings.import_batch_rows)
            child = reading.enter_context(
                rows_in_child(data, plan, start_after=start + first, phone_region=region)
            )
            rows = chain(islice(here, first), child)
        return await _write_rows(services, job, rows, owner)


async def _write_rows(
    services: Services, job: ClientImport, rows: Iterator[ClientRow | RowError], owner: str
) -> str:
    """Write the rows batch by batch, each batch read while the one before it is written."""
    settings = services.settings
    seen = DuplicateMemory()
    await _start(services, job)
    size = _first_batch_rows(settings.import_batch_rows)
    # The next batch is parsed (or received from the child) in a thread while this one is
    # written (SQLite and asyncpg release the GIL while they work).
    postgres = is_postgres(ClientImport._meta.db)  # the dates go in the driver's form
    batch = await asyncio.to_thread(_take, rows, size, postgres)
    while batch.items:
        started = time.monotonic()
        following = asyncio.ensure_future(asyncio.to_thread(_take, rows, size, postgres))
        try:
            job = await _commit_batch(services, job, batch, seen, owner)
        except BaseException:
            await asyncio.wait([following])
            raise
        size = _next_size(
            size, len(batch.items), time.monotonic() - started, settings.import_batch_rows
        )
        if job.cancel_requested:
            # Not cancelled: its thread would read on from a file about to be closed.
            await asyncio.wait([following])
            await _finish(services, job, ImportStatus.CANCELLED)
            return job.status.value
        batch = await following
    await _finish(services, job, ImportStatus.COMPLETED)
    return job.status.value


def _first_batch_rows(batch_rows: int) -> int:
    return min(batch_rows, PROGRESS_ROWS)


def _next_size(size: int, rows: int, seconds: float, most: int) -> int:
    """Rows for the batch after next (the next one is already being read): what fits in
    PROGRESS_SECONDS at the pace just measured, within [MIN_BATCH_ROWS, PROGRESS_ROWS]."""
    if seconds <= 0 or rows < size:
        return size
    fitting = int(rows * PROGRESS_SECONDS / seconds)
    return max(min(fitting, PROGRESS_ROWS, most), min(MIN_BATCH_ROWS, most))


INVITATION_COUNTERS = (
    "invitations_total",
    "invitations_sent",
    "invitations_failed",
    "invitations_finished_at",
)


async def _refresh(job: ClientImport, conn: BaseDBAsyncClient, fields: tuple[str, ...]) -> None:
    """Read back only the moving parts of the job row (the delivery worker moves the
    invitation counters), inside the transaction that publishes them."""
    fresh = await ClientImport.filter(id=job.id).using_db(conn).values(*fields)
    for name, value in fresh[0].items():
        setattr(job, name, value)


async def _reset_counts(job: ClientImport) -> None:
    counters = dict.fromkeys(COUNTERS, 0)
    await ClientImport.filter(id=job.id).update(**counters)
    await ClientImportIssue.filter(client_import_id=job.id).delete()
    for name, value in counters.items():
        setattr(job, name, value)


class LeaseLost(Exception):
    """Another worker took the job over (ours looked dead); stop without writing."""


async def _commit_batch(
    services: Services,
    job: ClientImport,
    batch: Prepared,
    seen: DuplicateMemory,
    owner: str,
) -> ClientImport:
    now = datetime.now(UTC)
    seen.mark()

    async def work(uow: UnitOfWork) -> None:
        conn = uow.conn
        # A retried attempt starts from the duplicate memory the batch began with.
        seen.rollback()
        writer = BatchWriter(conn, job, seen)
        result = await writer.apply(batch)
        # The checkpoint moves with the batch, and only while this worker holds the lease.
        moved = (
            await ClientImport.filter(id=job.id, lease_owner=owner)
            .using_db(conn)
            .update(
                processed_rows=F("processed_rows") + result.rows,
                created_count=F("created_count") + result.created,
                linked_count=F("linked_count") + result.linked,
                already_in_list_count=F("already_in_list_count") + result.already_in_list,
                duplicate_count=F("duplicate_count") + result.duplicates,
                error_count=F("error_count") + result.errors,
                warning_count=F("warning_count") + result.warnings,
                invitations_total=F("invitations_total") + len(result.outbox_ids),
                lease_expires_at=now + timedelta(seconds=services.settings.import_lease_seconds),
            )
        )
        if moved != 1:
            raise LeaseLost
        if result.outbox_ids:
            # One delivery job per batch; the sweeper picks up any that this misses.
            uow.enqueue(
                Job.DELIVER_OUTBOX_BATCH,
                [str(i) for i in result.outbox_ids],
                job_id=outbox_batch_job_id(result.outbox_ids[0]),
            )
        if result.client_ids:
            uow.publish(clients_channel(job.provider_id), ClientsChanged.of(*result.client_ids))
        await _refresh(job, conn, (*COUNTERS, "cancel_requested", *INVITATION_COUNTERS))
        uow.publish(import_channel(job.id), ImportProgress.of(job))

    await in_unit_of_work(services, work)
    return job
