"""Staff tooling: the `staff` query object (every read audited) and the retry mutations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from models import AuditEvent, OutboxMessage, Provider
from resolvers import policies
from resolvers.errors import DomainError
from resolvers.staff import tools as staff
from schema.clients import ClientType
from schema.context import Info
from schema.enum_docs import describe_enum
from schema.enums import ImportStatus, OutboxStatus
from schema.errors import AuthError, InvalidStateError, NotFoundError, expected, public_error
from schema.imports import (
    ClientImportConnection,
    ClientImportEdge,
    ClientImportType,
)
from schema.nodes import (
    CURSOR,
    EDGES,
    NODE,
    PAGE_INFO,
    After,
    Counted,
    Node,
    PageInfo,
    RequiredFirst,
    connection,
)

describe_enum(
    OutboxStatus,
    "Where an outgoing message (an e-mail) stands.",
    {
        "PENDING": "Waiting to be sent, or to be tried again.",
        "SENDING": "Being sent now.",
        "SENT": "Handed to the mail server.",
        "FAILED": "Given up after the configured attempts; retryOutboxMessage tries again.",
        "CANCELLED": "Not to be sent: superseded, e.g. an invitation to an address since changed.",
    },
)
STATUS = "Only those of this status."


@strawberry.type(description="A provider, as staff see it.")
class StaffProvider(Node):
    display_name: str = strawberry.field(description="The provider's name as they show it.")
    practice_name: str | None = strawberry.field(
        description="The provider's practice; null when they gave none."
    )
    email: str = strawberry.field(description="The provider account's e-mail address.")
    created_at: datetime = strawberry.field(description="When the provider signed up.")

    @classmethod
    def from_model(cls, provider: Provider) -> StaffProvider:
        return cls(
            id=strawberry.ID(str(provider.id)),
            display_name=provider.display_name,
            practice_name=provider.practice_name,
            email=provider.user.email,
            created_at=provider.created_at,
        )


@strawberry.type(description="A provider in a staff list.")
class StaffProviderEdge:
    cursor: str = strawberry.field(description=CURSOR)
    node: StaffProvider = strawberry.field(description=NODE)


@strawberry.type(description="A page of providers, newest first.")
class StaffProviderConnection(Counted):
    edges: list[StaffProviderEdge] = strawberry.field(description=EDGES)
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)


@strawberry.type(description="A client in a staff list.")
class StaffClientEdge:
    cursor: str = strawberry.field(description=CURSOR)
    node: ClientType = strawberry.field(description=NODE)


@strawberry.type(description="A page of one provider's clients, newest first.")
class StaffClientConnection(Counted):
    edges: list[StaffClientEdge] = strawberry.field(description=EDGES)
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)


@strawberry.type(
    name="OutboxMessage",
    description="An outgoing e-mail as staff see it: never its recipient or content.",
)
class OutboxMessageType(Node):
    """An outgoing message as staff see it: never its recipient or payload."""

    kind: str = strawberry.field(description="What kind of e-mail it is, e.g. an invitation.")
    status: OutboxStatus = strawberry.field(description="Where it stands.")
    attempts: int = strawberry.field(description="How many times sending was tried.")
    last_error: str | None = strawberry.field(
        description="Why the last attempt failed or why it was cancelled; null if neither."
    )
    created_at: datetime = strawberry.field(description="When it was queued.")
    sent_at: datetime | None = strawberry.field(description="When it was sent; null until then.")

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


@strawberry.type(description="An outgoing e-mail in a list.")
class OutboxMessageEdge:
    cursor: str = strawberry.field(description=CURSOR)
    node: OutboxMessageType = strawberry.field(description=NODE)


@strawberry.type(description="A page of outgoing e-mails, newest first.")
class OutboxMessageConnection(Counted):
    edges: list[OutboxMessageEdge] = strawberry.field(description=EDGES)
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)


@strawberry.type(
    name="AuditEvent", description="A record of who read or changed what, and when; ids only."
)
class AuditEventType(Node):
    actor_id: strawberry.ID | None = strawberry.field(
        description="The account that acted; null for the system."
    )
    actor_role: str | None = strawberry.field(
        description="That account's role (a Role value); null for the system."
    )
    action: str = strawberry.field(description="What was done, e.g. `client.update`.")
    client_id: strawberry.ID | None = strawberry.field(
        description="The client it concerns; null if none."
    )
    subject_id: strawberry.ID | None = strawberry.field(
        description="The record it concerns (an appointment, an import...); null if none."
    )
    created_at: datetime = strawberry.field(description="When it happened.")

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


@strawberry.type(description="An audit event in a list.")
class AuditEventEdge:
    cursor: str = strawberry.field(description=CURSOR)
    node: AuditEventType = strawberry.field(description=NODE)


@strawberry.type(description="A page of audit events, newest first.")
class AuditEventConnection(Counted):
    edges: list[AuditEventEdge] = strawberry.field(description=EDGES)
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)


@strawberry.type(
    description="Staff reads across every provider, newest first; each leaves an audit event."
)
class StaffQueries:
    @strawberry.field(description="Every provider.")
    async def providers(
        self,
        info: Info,
        search: Annotated[
            str | None,
            strawberry.argument(
                description="Text found in the provider's name, practice or e-mail address "
                "(case ignored)."
            ),
        ] = None,
        first: RequiredFirst = 20,
        after: After = None,
    ) -> StaffProviderConnection:
        try:
            page = await staff.list_providers(info.context.actor, search, first, after)
        except DomainError as error:
            raise public_error(error) from None
        return connection(
            StaffProviderConnection, StaffProviderEdge, page, StaffProvider.from_model, after
        )

    @strawberry.field(
        description="One provider's clients, archived ones included; each client read is audited."
    )
    async def provider_clients(
        self,
        info: Info,
        provider_id: Annotated[
            strawberry.ID, strawberry.argument(description="The provider's id.")
        ],
        first: RequiredFirst = 20,
        after: After = None,
    ) -> StaffClientConnection:
        try:
            page = await staff.list_provider_clients(info.context.actor, provider_id, first, after)
        except DomainError as error:
            raise public_error(error) from None
        return connection(StaffClientConnection, StaffClientEdge, page, ClientType.from_view, after)

    @strawberry.field(description="Every provider's imports.")
    async def client_imports(
        self,
        info: Info,
        status: Annotated[ImportStatus | None, strawberry.argument(description=STATUS)] = None,
        first: RequiredFirst = 20,
        after: After = None,
    ) -> ClientImportConnection:
        try:
            page = await staff.list_client_imports(info.context.actor, status, first, after)
        except DomainError as error:
            raise public_error(error) from None
        return connection(
            ClientImportConnection, ClientImportEdge, page, ClientImportType.from_row, after
        )

    @strawberry.field(description="Every outgoing e-mail.")
    async def outbox_messages(
        self,
        info: Info,
        status: Annotated[
            OutboxStatus | None,
            strawberry.argument(description=STATUS),
        ] = None,
        first: RequiredFirst = 20,
        after: After = None,
    ) -> OutboxMessageConnection:
        try:
            page = await staff.list_outbox(info.context.actor, status, first, after)
        except DomainError as error:
            raise public_error(error) from None
        return connection(
            OutboxMessageConnection, OutboxMessageEdge, page, OutboxMessageType.from_model, after
        )

    @strawberry.field(description="The audit trail.")
    async def audit_events(
        self,
        info: Info,
        actor_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this account's acts.")
        ] = None,
        client_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only those about this client.")
        ] = None,
        from_: Annotated[
            datetime | None,
            strawberry.argument(name="from", description="Only those at or after this time."),
        ] = None,
        to: Annotated[
            datetime | None, strawberry.argument(description="Only those before this time.")
        ] = None,
        first: RequiredFirst = 20,
        after: After = None,
    ) -> AuditEventConnection:
        where = staff.AuditFilter(actor_id=actor_id, client_id=client_id, since=from_, until=to)
        try:
            page = await staff.list_audit_events(info.context.actor, where, first, after)
        except DomainError as error:
            raise public_error(error) from None
        return connection(
            AuditEventConnection, AuditEventEdge, page, AuditEventType.from_model, after
        )


@strawberry.type
class StaffRootQueries:
    @strawberry.field(description="Staff tools (staff only; FORBIDDEN for anyone else).")
    def staff(self, info: Info) -> StaffQueries:
        try:
            policies.require_staff(info.context.actor)
        except DomainError as error:
            raise public_error(error) from None
        return StaffQueries()


@strawberry.type(description="The outgoing e-mail, as changed.")
class OutboxMessageSuccess:
    outbox_message: OutboxMessageType = strawberry.field(description="The e-mail now.")


@strawberry.type(description="The import, queued again.")
class RetryClientImportSuccess:
    client_import: ClientImportType = strawberry.field(description="The import now.")


RetryOutboxMessageResult = Annotated[
    OutboxMessageSuccess | InvalidStateError | NotFoundError | AuthError,
    strawberry.union(
        "RetryOutboxMessageResult", description="The e-mail queued again, or why not."
    ),
]
RetryClientImportResult = Annotated[
    RetryClientImportSuccess | InvalidStateError | NotFoundError | AuthError,
    strawberry.union("RetryClientImportResult", description="The import queued again, or why not."),
]


@strawberry.type
class StaffMutations:
    @strawberry.mutation(
        description="Staff: send a failed or cancelled e-mail again, with a fresh attempt budget."
    )
    async def retry_outbox_message(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The e-mail's id.")],
    ) -> RetryOutboxMessageResult:
        ctx = info.context
        try:
            message = await staff.retry_outbox_message(ctx.services, ctx.actor, id)
        except DomainError as error:
            return expected(error, InvalidStateError, NotFoundError, AuthError)
        return OutboxMessageSuccess(outbox_message=OutboxMessageType.from_model(message))

    @strawberry.mutation(
        description="Staff: queue a failed import again; it resumes after its last written batch."
    )
    async def retry_client_import(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The import's id.")],
    ) -> RetryClientImportResult:
        ctx = info.context
        try:
            job = await staff.retry_client_import(ctx.services, ctx.actor, id)
        except DomainError as error:
            return expected(error, InvalidStateError, NotFoundError, AuthError)
        return RetryClientImportSuccess(client_import=ClientImportType.from_row(job))
