"""Staff tooling: read any provider's data (every read audited) and retry stuck jobs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from models import (
    AuditEvent,
    ClientImport,
    ImportStatus,
    OutboxMessage,
    OutboxStatus,
    Provider,
    ProviderClient,
)
from resolvers import audit
from resolvers.actor import Actor
from resolvers.clients.views import ClientView, link_view
from resolvers.cursors import LazyCount, count_of, read_time_cursor, time_cursor
from resolvers.effects import Job, import_retry_job_id, outbox_retry_job_id
from resolvers.errors import InvalidState, NotFound
from resolvers.pages import Page, page_size
from resolvers.policies import parse_id, require_staff
from resolvers.ports import Services
from resolvers.unit_of_work import UnitOfWork, in_unit_of_work

RETRYABLE_OUTBOX = (OutboxStatus.FAILED, OutboxStatus.CANCELLED)

M = TypeVar("M", bound=Model)
T = TypeVar("T")


async def _page(
    query: QuerySet[M], first: int, after: str | None, *, time_field: str = "created_at"
) -> tuple[list[tuple[str, M]], bool, LazyCount]:
    """Newest first, keyset-paginated over (time, id); the count is of the whole list."""
    first = page_size(first)
    count = count_of(query)
    if after:
        at, last_id = read_time_cursor(after)
        older: dict[str, Any] = {f"{time_field}__lt": at}
        same_time: dict[str, Any] = {time_field: at, "id__lt": last_id}
        query = query.filter(Q(**older) | Q(**same_time))
    rows = await query.order_by(f"-{time_field}", "-id").limit(first + 1)
    items = [(time_cursor(getattr(row, time_field), row.pk), row) for row in rows[:first]]
    return items, len(rows) > first, count


async def list_providers(
    actor: Actor | None, search: str | None, first: int, after: str | None
) -> Page[Provider]:
    actor = require_staff(actor)
    query = Provider.all().select_related("user")
    if search and (needle := " ".join(search.split())):
        query = query.filter(
            Q(display_name__icontains=needle)
            | Q(practice_name__icontains=needle)
            | Q(user__email__icontains=needle.lower())
        )
    items, more, count = await _page(query, first, after)
    await audit.record(actor, "staff.providers.list")
    return Page(items, more, count)


async def list_provider_clients(
    actor: Actor | None, provider_id: str, first: int, after: str | None
) -> Page[ClientView]:
    """A provider's active and archived clients; one audit event per client returned."""
    actor = require_staff(actor)
    provider = await Provider.get_or_none(id=parse_id(provider_id))
    if provider is None:
        raise NotFound("No provider with that id.")
    query = ProviderClient.filter(provider_id=provider.id).select_related("client", "client__user")
    links, more, count = await _page(query, first, after, time_field="added_at")
    items = [(cursor, link_view(link)) for cursor, link in links]
    await audit.record_each(
        actor, "staff.client.read", [link.client_id for _, link in links], subject_id=provider.id
    )
    return Page(items, more, count)


async def list_client_imports(
    actor: Actor | None, status: ImportStatus | None, first: int, after: str | None
) -> Page[ClientImport]:
    wanted = [status] if status is not None else []
    return await _list_by_status(actor, ClientImport, wanted, first, after, "staff.imports.list")


async def list_outbox(
    actor: Actor | None,
    status: OutboxStatus | None,
    first: int,
    after: str | None,
    *,
    among: Sequence[OutboxStatus] = (),
) -> Page[OutboxMessage]:
    """`among`, used when no `status` is given, narrows to several (the CLI's default view)."""
    wanted = [status] if status is not None else list(among)
    return await _list_by_status(actor, OutboxMessage, wanted, first, after, "staff.outbox.list")


async def _list_by_status(
    actor: Actor | None,
    model: type[M],
    statuses: Sequence[StrEnum],
    first: int,
    after: str | None,
    action: str,
) -> Page[M]:
    """Rows of every provider, newest first, of the given statuses (or any); audited."""
    actor = require_staff(actor)
    query = model.all()
    if statuses:
        query = query.filter(status__in=list(statuses))
    items, more, count = await _page(query, first, after)
    await audit.record(actor, action)
    return Page(items, more, count)


@dataclass(frozen=True)
class AuditFilter:
    actor_id: str | None = None
    client_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def list_audit_events(
    actor: Actor | None, where: AuditFilter, first: int, after: str | None
) -> Page[AuditEvent]:
    actor = require_staff(actor)
    filters: dict[str, Any] = {}
    if where.actor_id:
        filters["actor_id"] = parse_id(where.actor_id)
    if where.client_id:
        filters["client_id"] = parse_id(where.client_id)
    if where.since:
        filters["created_at__gte"] = where.since
    if where.until:
        filters["created_at__lt"] = where.until
    items, more, count = await _page(AuditEvent.filter(**filters), first, after)
    await audit.record(actor, "staff.audit.list")
    return Page(items, more, count)


async def retry_outbox_message(
    services: Services, actor: Actor | None, message_id: str
) -> OutboxMessage:
    """A failed or cancelled message goes back to PENDING with a fresh attempt budget."""
    actor = require_staff(actor)
    message = await OutboxMessage.get_or_none(id=parse_id(message_id))
    if message is None:
        raise NotFound()

    async def work(uow: UnitOfWork) -> None:
        updated = (
            await OutboxMessage.filter(id=message.id, status__in=RETRYABLE_OUTBOX)
            .using_db(uow.conn)
            .update(
                status=OutboxStatus.PENDING,
                attempts=0,
                last_error=None,
                locked_until=None,
                available_at=datetime.now(UTC),
            )
        )
        if updated != 1:
            raise InvalidState(
                "Only failed or cancelled messages can be retried; "
                f"this one is {message.status.value}."
            )
        await audit.record(actor, "staff.outbox.retry", subject_id=message.id, conn=uow.conn)
        # A new job id: arq keeps the results of earlier attempts under their ids.
        uow.enqueue(Job.DELIVER_OUTBOX, str(message.id), job_id=outbox_retry_job_id(message.id))

    await in_unit_of_work(services, work)
    return await OutboxMessage.get(id=message.id)


async def retry_client_import(
    services: Services, actor: Actor | None, import_id: str
) -> ClientImport:
    """A failed import is queued again; it resumes after its last committed batch."""
    actor = require_staff(actor)
    job = await ClientImport.get_or_none(id=parse_id(import_id))
    if job is None:
        raise NotFound()

    async def work(uow: UnitOfWork) -> None:
        updated = (
            await ClientImport.filter(id=job.id, status=ImportStatus.FAILED)
            .using_db(uow.conn)
            .update(
                status=ImportStatus.QUEUED,
                lease_owner=None,
                lease_expires_at=None,
                failure_reason=None,
                finished_at=None,
                cancel_requested=False,
            )
        )
        if updated != 1:
            raise InvalidState(
                f"Only failed imports can be retried; this one is {job.status.value}."
            )
        await audit.record(actor, "staff.import.retry", subject_id=job.id, conn=uow.conn)
        uow.enqueue(Job.RUN_IMPORT, str(job.id), job_id=import_retry_job_id(job.id))

    await in_unit_of_work(services, work)
    return await ClientImport.get(id=job.id)
