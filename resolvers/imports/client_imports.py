"""Starting, cancelling and reading client imports (the job row is the source of truth)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePath
from uuid import UUID

from tortoise.expressions import Q

from importing import Source, inspect_file
from importing import open_upload as open_upload  # re-exported for the schema
from importing.errors import FileErrorCode
from importing.errors import ImportFileError as ImportFileError  # re-exported for the schema
from importing.model import ClientField as ClientField  # re-exported for the schema
from importing.model import ImportFormat as ImportFormat  # re-exported for the schema
from importing.plans import plan_to_json
from models import ClientImport, ClientImportIssue, ImportStatus
from resolvers.actor import Actor
from resolvers.cursors import (
    count_of,
    encode_cursor,
    read_int_cursor,
    read_time_cursor,
    time_cursor,
)
from resolvers.effects import ImportProgress, Job, import_channel, import_job_id
from resolvers.errors import DomainError, InvalidState, NotFound, RateLimited
from resolvers.imports.campaigns import TERMINAL, is_done
from resolvers.imports.files import forget_file, store_file
from resolvers.pages import Page, page_size
from resolvers.policies import parse_id, require_provider, require_verified_provider
from resolvers.ports import Listen, Services
from resolvers.unit_of_work import UnitOfWork, in_unit_of_work

IMPORTS_PER_HOUR = 60


@dataclass(frozen=True)
class ImportRequest:
    file_name: str
    # Read where it lies (the API's spooled upload, the operator's file), a chunk at a time.
    file: Source
    dry_run: bool = False
    send_invitations: bool = True
    column_mapping: dict[ClientField, str] | None = None


def _file_name(raw: str | None) -> str:
    name = PurePath((raw or "").replace("\\", "/")).name.strip()
    return (name or "upload")[:255]


async def start_import(
    services: Services, actor: Actor | None, request: ImportRequest
) -> ClientImport:
    """Check the file synchronously, store it with its job row, and queue the job."""
    provider_id = require_verified_provider(actor).provider_id
    settings = services.settings
    if not await services.limiter.hit(
        f"import:provider:{provider_id}", limit=IMPORTS_PER_HOUR, window_seconds=3600
    ):
        raise RateLimited("Too many imports in the last hour. Try again later.")
    if request.file.size > settings.max_upload_bytes:
        raise ImportFileError(
            FileErrorCode.FILE_TOO_LARGE,
            f"The file is larger than {settings.max_upload_bytes // 1_000_000} MB. "
            "Split it into smaller files and import each.",
        )
    plan = await asyncio.to_thread(
        inspect_file,
        request.file,
        column_mapping=request.column_mapping,
        max_rows=settings.max_import_rows,
        max_bytes=settings.max_upload_bytes,
    )

    async def store(uow: UnitOfWork) -> ClientImport:
        conn = uow.conn
        job = await ClientImport.create(
            provider_id=provider_id,
            file_name=_file_name(request.file_name),
            format=plan.format.value,
            dry_run=request.dry_run,
            send_invitations=request.send_invitations and not request.dry_run,
            explicit_mapping={f.value: c for f, c in (request.column_mapping or {}).items()},
            column_mapping=[{"field": f.value, "column": c} for f, c in plan.mapping.items()],
            ignored_columns=list(plan.ignored_columns),
            file_plan=plan_to_json(plan),
            total_rows=plan.total_rows,
            using_db=conn,
        )
        await store_file(conn, job.id, request.file)
        uow.enqueue(Job.RUN_IMPORT, str(job.id), job_id=import_job_id(job.id))
        return job

    return await in_unit_of_work(services, store)


async def _own_import(actor: Actor | None, import_id: str) -> ClientImport:
    provider_id = require_provider(actor).provider_id
    job = await ClientImport.get_or_none(id=parse_id(import_id), provider_id=provider_id)
    if job is None:
        raise NotFound("No import with that id is yours.")
    return job


async def get_import(actor: Actor | None, import_id: str) -> ClientImport | None:
    """The provider's own import, else None (like an unknown id)."""
    try:
        return await _own_import(actor, import_id)
    except DomainError:  # not a provider, not theirs, or a malformed id: all look unknown
        return None


async def follow_import(
    actor: Actor | None, import_id: str, listen: Listen
) -> AsyncIterator[ClientImport]:
    """The import as it is now, then after each published batch of rows or e-mails, until
    its rows are in a terminal state and no invitation is pending.

    Subscribes before reading, so no batch slips between the two; an event published before
    that read is dropped. Each event carries the whole snapshot, so nothing is read again.
    """
    job = await _own_import(actor, import_id)
    async with listen(import_channel(job.id)) as events:
        await job.refresh_from_db()
        yield job
        if is_done(job):  # rows in a terminal state and no invitation left to send
            return
        async for raw in events:
            progress = ImportProgress.from_json(raw)
            if not progress.moves_past(job):
                continue  # published before the state read above
            progress.apply_to(job)
            yield job
            if is_done(job):
                return


async def list_imports(actor: Actor | None, first: int, after: str | None) -> Page[ClientImport]:
    provider_id = require_provider(actor).provider_id
    first = page_size(first)
    query = ClientImport.filter(provider_id=provider_id)
    count = count_of(query)
    if after:
        at, last_id = read_time_cursor(after)
        query = query.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=last_id))
    jobs = await query.order_by("-created_at", "-id").limit(first + 1)
    items = [(time_cursor(j.created_at, j.id), j) for j in jobs[:first]]
    return Page(items, len(jobs) > first, count)


async def list_issues(
    job: ClientImport, first: int, after: str | None, severity: str | None
) -> Page[ClientImportIssue]:
    first = page_size(first)
    query = ClientImportIssue.filter(client_import_id=job.id)
    if severity:
        query = query.filter(severity=severity)
    total = count_of(query)
    if after:
        query = query.filter(id__gt=read_int_cursor(after))
    issues = await query.order_by("id").limit(first + 1)
    items = [(encode_cursor([i.row, i.id]), i) for i in issues[:first]]
    return Page(items, len(issues) > first, total)


async def cancel_import(services: Services, actor: Actor | None, import_id: str) -> ClientImport:
    job = await _own_import(actor, import_id)
    if job.status in TERMINAL:
        raise InvalidState(f"This import is already {job.status.value.lower()}.")
    if job.status is ImportStatus.QUEUED:

        async def stop(uow: UnitOfWork) -> bool:
            stopped = (
                await ClientImport.filter(id=job.id, status=ImportStatus.QUEUED)
                .using_db(uow.conn)
                .update(
                    status=ImportStatus.CANCELLED,
                    cancel_requested=True,
                    finished_at=datetime.now(UTC),
                )
            )
            if stopped:
                await forget_file(job.id, uow.conn)
                fresh = await ClientImport.filter(id=job.id).using_db(uow.conn).get()
                uow.publish(import_channel(job.id), ImportProgress.of(fresh))
            return bool(stopped)

        if await in_unit_of_work(services, stop):
            await job.refresh_from_db()
            return job
    await ClientImport.filter(id=job.id).update(cancel_requested=True)
    await job.refresh_from_db()
    return job


async def issues_for_download(actor: Actor | None, import_id: str) -> list[ClientImportIssue]:
    job = await _own_import(actor, import_id)
    return await ClientImportIssue.filter(client_import_id=job.id).order_by("id")


async def issues_by_signed_link(import_id: str) -> list[ClientImportIssue]:
    """The issues of the import a checked signed link names (the signature is the permission)."""
    return await ClientImportIssue.filter(client_import_id=parse_id(import_id)).order_by("id")


async def stalled_imports(after_seconds: int) -> list[tuple[UUID, str]]:
    """Queued jobs nobody started, and running jobs whose worker stopped renewing its lease."""
    now = datetime.now(UTC)
    queued_before = now - timedelta(seconds=after_seconds)
    rows = await ClientImport.filter(
        Q(status=ImportStatus.QUEUED, created_at__lt=queued_before, lease_expires_at__isnull=True)
        | Q(status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING], lease_expires_at__lt=now)
    ).values("id", "lease_expires_at")
    return [
        (
            row["id"],
            str(int(row["lease_expires_at"].timestamp())) if row["lease_expires_at"] else "q",
        )
        for row in rows
    ]
