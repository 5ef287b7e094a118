"""Message and thread types, the conversation queries, sendMessage and markThreadRead."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from models import Message
from resolvers import message_threads, messaging
from resolvers.clients import ClientView
from resolvers.errors import DomainError
from resolvers.message_threads import ThreadView
from resolvers.messaging import OutgoingMessage
from schema.accounts import ProviderProfile, RoleEnum
from schema.clients import ClientType
from schema.context import Info
from schema.errors import (
    AuthError,
    InputError,
    InvalidStateError,
    NotFoundError,
    public_error,
    to_error,
)
from schema.nodes import Counted, Node, PageInfo


@strawberry.type(name="Message")
class MessageType(Node):
    body: str
    sent_at: datetime
    sender_role: RoleEnum
    read_at: datetime | None

    @classmethod
    def from_model(cls, message: Message) -> MessageType:
        return cls(
            id=strawberry.ID(str(message.id)),
            body=message.body,
            sent_at=message.sent_at,
            sender_role=RoleEnum(message.sender_role.value),
            read_at=message.read_at,
        )


@strawberry.type
class MessageEdge:
    cursor: str
    node: MessageType


@strawberry.type
class MessageConnection(Counted):
    edges: list[MessageEdge]
    page_info: PageInfo


@strawberry.type(name="MessageThread")
class MessageThreadType(Node):
    view: strawberry.Private[ThreadView]
    last_message_at: datetime | None

    @strawberry.field
    def client(self) -> ClientType:
        return ClientType.from_view(self.view.client)

    @strawberry.field
    def provider(self) -> ProviderProfile:
        return ProviderProfile.from_model(self.view.provider)

    @strawberry.field(description="Messages from the other side the viewer has not read.")
    async def unread_count(self, info: Info) -> int:
        actor = info.context.actor
        if actor is None:
            return 0
        return await info.context.loaders.unread_messages.load((self.view.thread.id, actor.role))

    @strawberry.field(description="Newest first.")
    async def messages(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> MessageConnection:
        try:
            page = await message_threads.list_messages(
                info.context.actor, self.view.thread, 50 if first is None else first, after
            )
        except DomainError as error:
            raise public_error(error) from None
        edges = [MessageEdge(cursor=c, node=MessageType.from_model(m)) for c, m in page.items]
        return MessageConnection(
            edges=edges,
            page_info=PageInfo.of(edges, page.has_next_page, after),
            count=page.count,
        )

    @classmethod
    def from_view(cls, view: ThreadView) -> MessageThreadType:
        return cls(
            id=strawberry.ID(str(view.thread.id)),
            view=view,
            last_message_at=view.thread.last_message_at,
        )


@strawberry.type
class MessageThreadEdge:
    cursor: str
    node: MessageThreadType


@strawberry.type
class MessageThreadConnection(Counted):
    edges: list[MessageThreadEdge]
    page_info: PageInfo


@strawberry.input(description="A provider names clientId; a client names providerId.")
class SendMessageInput:
    client_id: strawberry.ID | None = None
    provider_id: strawberry.ID | None = None
    body: str

    def to_data(self) -> OutgoingMessage:
        return OutgoingMessage(
            body=self.body, client_id=self.client_id, provider_id=self.provider_id
        )


@strawberry.type
class MessageSuccess:
    sent_message: MessageType = strawberry.field(description="The message just sent.")
    thread: MessageThreadType = strawberry.field(description="The conversation it belongs to.")

    @strawberry.field(
        description="The message just sent.",
        deprecation_reason=(
            "Use sentMessage: `message` clashes with MutationError.message in one selection set."
        ),
    )
    def message(self) -> MessageType:
        return self.sent_message


MessageResult = Annotated[
    MessageSuccess | InputError | AuthError | NotFoundError | InvalidStateError,
    strawberry.union("MessageResult"),
]


@strawberry.type
class MessageThreadSuccess:
    thread: MessageThreadType


MessageThreadResult = Annotated[
    MessageThreadSuccess | AuthError | NotFoundError, strawberry.union("MessageThreadResult")
]


async def thread_of_client(info: Info, client: ClientView) -> MessageThreadType | None:
    """`Client.messageThread`, batched per request by the (provider, client) pair."""
    key = message_threads.thread_key(info.context.actor, client)
    if key is None:
        return None
    thread = await info.context.loaders.thread_by_pair.load(key)
    if thread is None:
        return None
    return MessageThreadType.from_view(ThreadView(thread, client, thread.provider))


@strawberry.type
class MessagingQueries:
    @strawberry.field(description="The viewer's conversations, newest activity first.")
    async def message_threads(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> MessageThreadConnection:
        try:
            page = await message_threads.list_threads(
                info.context.actor, 20 if first is None else first, after
            )
        except DomainError as error:
            raise public_error(error) from None
        edges = [
            MessageThreadEdge(cursor=c, node=MessageThreadType.from_view(v)) for c, v in page.items
        ]
        return MessageThreadConnection(
            edges=edges,
            page_info=PageInfo.of(edges, page.has_next_page, after),
            count=page.count,
        )

    @strawberry.field
    async def message_thread(self, info: Info, id: strawberry.ID) -> MessageThreadType | None:
        view = await message_threads.get_thread(info.context.actor, id)
        return MessageThreadType.from_view(view) if view else None

    @strawberry.field(description="A provider's public profile, for a client to message.")
    async def provider(self, id: strawberry.ID) -> ProviderProfile | None:
        provider = await message_threads.provider_profile(id)
        return ProviderProfile.from_model(provider) if provider else None


@strawberry.type
class MessagingMutations:
    @strawberry.mutation
    async def send_message(self, info: Info, input: SendMessageInput) -> MessageResult:
        ctx = info.context
        try:
            sent = await messaging.send_message(ctx.services, ctx.actor, input.to_data())
        except DomainError as error:
            return to_error(error)  # type: ignore[return-value]
        return MessageSuccess(
            sent_message=MessageType.from_model(sent.message),
            thread=MessageThreadType.from_view(sent.thread),
        )

    @strawberry.mutation
    async def mark_thread_read(self, info: Info, thread_id: strawberry.ID) -> MessageThreadResult:
        try:
            view = await messaging.mark_thread_read(info.context.actor, thread_id)
        except DomainError as error:
            return to_error(error)  # type: ignore[return-value]
        return MessageThreadSuccess(thread=MessageThreadType.from_view(view))
