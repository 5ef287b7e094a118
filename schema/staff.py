"""Staff tooling: the `staff` query object (every read audited) and the retry mutations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from models import AuditEvent, OutboxMessage, Provider
from resolvers import policies, staff
from resolvers.errors import DomainError
from schema.clients import ClientType
from schema.context import Info
from schema.enums import ImportStatus, OutboxStatus
from schema.errors import AuthError, InvalidStateError, NotFoundError, expected, public_error
from schema.imports import (
    ClientImportConnection,
    ClientImportEdge,
    ClientImportType,
)
from schema.nodes import Counted, Node, PageInfo


@strawberry.type
class StaffProvider(Node):
    display_name: str
    practice_name: str | None
    email: str
    created_at: datetime

    @classmethod
    def from_model(cls, provider: Provider) -> StaffProvider:
        return cls(
            id=strawberry.ID(str(provider.id)),
            display_name=provider.display_name,
            practice_name=provider.practice_name,
            email=provider.user.email,
            created_at=provider.created_at,
        )


@strawberry.type
class StaffProviderEdge:
    cursor: str
    node: StaffProvider


@strawberry.type
class StaffProviderConnection(Counted):
    edges: list[StaffProviderEdge]
    page_info: PageInfo


@strawberry.type
class StaffClientEdge:
    cursor: str
    node: ClientType


@strawberry.type
class StaffClientConnection(Counted):
    edges: list[StaffClientEdge]
    page_info: PageInfo


@strawberry.type(name="OutboxMessage")
class OutboxMessageType(Node):
    """An outgoing message as staff see it: never its recipient or payload."""

    kind: str
    status: OutboxStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def from_model(cls, message: OutboxMessage) -> OutboxMessageType:
        return cls(
            id=strawberry.ID(str(message.id)),
            kind=message.kind,
            status=message.status,
            attempts=message.attempts,
            last_error=message.last_error,
            created_at=message.created_at,
            sent_at=message.sent_at,
        )


@strawberry.type
class OutboxMessageEdge:
    cursor: str
    node: OutboxMessageType


@strawberry.type
class OutboxMessageConnection(Counted):
    edges: list[OutboxMessageEdge]
    page_info: PageInfo


@strawberry.type(name="AuditEvent")
class AuditEventType(Node):
    actor_id: strawberry.ID | None
    actor_role: str | None
    action: str
    client_id: strawberry.ID | None
    subject_id: strawberry.ID | None
    created_at: datetime

    @classmethod
    def from_model(cls, event: AuditEvent) -> AuditEventType:
        def opt(value: object) -> strawberry.ID | None:
            return strawberry.ID(str(value)) if value is not None else None

        return cls(
            id=strawberry.ID(str(event.id)),
            actor_id=opt(event.actor_id),
            actor_role=event.actor_role,
            action=event.action,
            client_id=opt(event.client_id),
            subject_id=opt(event.subject_id),
            created_at=event.created_at,
        )


@strawberry.type
class AuditEventEdge:
    cursor: str
    node: AuditEventType


@strawberry.type
class AuditEventConnection(Counted):
    edges: list[AuditEventEdge]
    page_info: PageInfo


@strawberry.type
class StaffQueries:
    """Reads across every provider; each one leaves an audit event."""

    @strawberry.field
    async def providers(
        self, info: Info, search: str | None = None, first: int = 20, after: str | None = None
    ) -> StaffProviderConnection:
        try:
            page = await staff.list_providers(info.context.actor, search, first, after)
        except DomainError as error:
            raise public_error(error) from None
        edges = [
            StaffProviderEdge(cursor=c, node=StaffProvider.from_model(p)) for c, p in page.items
        ]
        return StaffProviderConnection(
            edges=edges, page_info=PageInfo.of(edges, page.has_next_page, after), count=page.count
        )

    @strawberry.field
    async def provider_clients(
        self, info: Info, provider_id: strawberry.ID, first: int = 20, after: str | None = None
    ) -> StaffClientConnection:
        try:
            page = await staff.list_provider_clients(info.context.actor, provider_id, first, after)
        except DomainError as error:
            raise public_error(error) from None
        edges = [StaffClientEdge(cursor=c, node=ClientType.from_view(v)) for c, v in page.items]
        return StaffClientConnection(
            edges=edges, page_info=PageInfo.of(edges, page.has_next_page, after), count=page.count
        )

    @strawberry.field
    async def client_imports(
        self,
        info: Info,
        status: ImportStatus | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> ClientImportConnection:
        try:
            page = await staff.list_client_imports(info.context.actor, status, first, after)
        except DomainError as error:
            raise public_error(error) from None
        edges = [
            ClientImportEdge(cursor=c, node=ClientImportType.from_row(r)) for c, r in page.items
        ]
        return ClientImportConnection(
            edges=edges, page_info=PageInfo.of(edges, page.has_next_page, after), count=page.count
        )

    @strawberry.field
    async def outbox_messages(
        self,
        info: Info,
        status: OutboxStatus | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> OutboxMessageConnection:
        try:
            page = await staff.list_outbox(info.context.actor, status, first, after)
        except DomainError as error:
            raise public_error(error) from None
        edges = [
            OutboxMessageEdge(cursor=c, node=OutboxMessageType.from_model(m)) for c, m in page.items
        ]
        return OutboxMessageConnection(
            edges=edges, page_info=PageInfo.of(edges, page.has_next_page, after), count=page.count
        )

    @strawberry.field
    async def audit_events(
        self,
        info: Info,
        actor_id: strawberry.ID | None = None,
        client_id: strawberry.ID | None = None,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> AuditEventConnection:
        where = staff.AuditFilter(actor_id=actor_id, client_id=client_id, since=from_, until=to)
        try:
            page = await staff.list_audit_events(info.context.actor, where, first, after)
        except DomainError as error:
            raise public_error(error) from None
        edges = [AuditEventEdge(cursor=c, node=AuditEventType.from_model(e)) for c, e in page.items]
        return AuditEventConnection(
            edges=edges, page_info=PageInfo.of(edges, page.has_next_page, after), count=page.count
        )


@strawberry.type
class StaffRootQueries:
    @strawberry.field
    def staff(self, info: Info) -> StaffQueries:
        try:
            policies.require_staff(info.context.actor)
        except DomainError as error:
            raise public_error(error) from None
        return StaffQueries()


@strawberry.type
class OutboxMessageSuccess:
    outbox_message: OutboxMessageType


@strawberry.type
class RetryClientImportSuccess:
    client_import: ClientImportType


RetryOutboxMessageResult = Annotated[
    OutboxMessageSuccess | InvalidStateError | NotFoundError | AuthError,
    strawberry.union("RetryOutboxMessageResult"),
]
RetryClientImportResult = Annotated[
    RetryClientImportSuccess | InvalidStateError | NotFoundError | AuthError,
    strawberry.union("RetryClientImportResult"),
]


@strawberry.type
class StaffMutations:
    @strawberry.mutation
    async def retry_outbox_message(self, info: Info, id: strawberry.ID) -> RetryOutboxMessageResult:
        ctx = info.context
        try:
            message = await staff.retry_outbox_message(ctx.services, ctx.actor, id)
        except DomainError as error:
            return expected(error, InvalidStateError, NotFoundError, AuthError)
        return OutboxMessageSuccess(outbox_message=OutboxMessageType.from_model(message))

    @strawberry.mutation
    async def retry_client_import(self, info: Info, id: strawberry.ID) -> RetryClientImportResult:
        ctx = info.context
        try:
            job = await staff.retry_client_import(ctx.services, ctx.actor, id)
        except DomainError as error:
            return expected(error, InvalidStateError, NotFoundError, AuthError)
        return RetryClientImportSuccess(client_import=ClientImportType.from_row(job))
