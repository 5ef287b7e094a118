"""Message and thread types, the conversation queries, sendMessage and markThreadRead."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from models import Message
from resolvers.clients.adding import ClientView
from resolvers.errors import DomainError
from resolvers.messaging import sending as messaging
from resolvers.messaging import threads as message_threads
from resolvers.messaging.sending import OutgoingMessage
from resolvers.messaging.threads import ThreadView
from schema.accounts import ProviderProfile
from schema.clients import ClientType
from schema.context import Info
from schema.enums import Role
from schema.errors import (
    AuthError,
    InputError,
    InvalidStateError,
    NotFoundError,
    expected,
    public_error,
)
from schema.nodes import (
    CURSOR,
    EDGES,
    NODE,
    PAGE_INFO,
    After,
    Counted,
    First,
    Node,
    PageInfo,
    connection,
)

THREAD_ID = "The conversation's id."


@strawberry.type(name="Message", description="One message of a conversation.")
class MessageType(Node):
    body: str = strawberry.field(description="Its text, as plain text.")
    sent_at: datetime = strawberry.field(description="When it was sent.")
    sender_role: Role = strawberry.field(
        description="Who wrote it: PROVIDER or CLIENT, the two sides of the conversation."
    )
    read_at: datetime | None = strawberry.field(
        description="When the other side read it; null until then."
    )

    @classmethod
    def from_model(cls, message: Message) -> MessageType:
        return cls(
            id=strawberry.ID(str(message.id)),
            body=message.body,
            sent_at=message.sent_at,
            sender_role=message.sender_role,
            read_at=message.read_at,
        )


@strawberry.type(description="A message in a list.")
class MessageEdge:
    cursor: str = strawberry.field(description=CURSOR)
    node: MessageType = strawberry.field(description=NODE)


@strawberry.type(description="A page of messages, newest first.")
class MessageConnection(Counted):
    edges: list[MessageEdge] = strawberry.field(description=EDGES)
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)


@strawberry.type(
    name="MessageThread", description="The conversation between one provider and one client."
)
class MessageThreadType(Node):
    view: strawberry.Private[ThreadView]
    last_message_at: datetime | None = strawberry.field(
        description="When its newest message was sent; null while it has none."
    )

    @strawberry.field(description="The client, as the viewer sees them.")
    def client(self) -> ClientType:
        return ClientType.from_view(self.view.client)

    @strawberry.field(description="The provider.")
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
        self, info: Info, first: First = 50, after: After = None
    ) -> MessageConnection:
        try:
            page = await message_threads.list_messages(
                info.context.actor, self.view.thread, 50 if first is None else first, after
            )
        except DomainError as error:
            raise public_error(error) from None
        return connection(MessageConnection, MessageEdge, page, MessageType.from_model, after)

    @classmethod
    def from_view(cls, view: ThreadView) -> MessageThreadType:
        return cls(
            id=strawberry.ID(str(view.thread.id)),
            view=view,
            last_message_at=view.thread.last_message_at,
        )


@strawberry.type(description="A conversation in a list.")
class MessageThreadEdge:
    cursor: str = strawberry.field(description=CURSOR)
    node: MessageThreadType = strawberry.field(description=NODE)


@strawberry.type(description="A page of conversations, newest activity first.")
class MessageThreadConnection(Counted):
    edges: list[MessageThreadEdge] = strawberry.field(description=EDGES)
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)


@strawberry.input(description="A provider names clientId; a client names providerId.")
class SendMessageInput:
    client_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="For a provider: the client to write to, on its list (archived ones too).",
    )
    provider_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="For a client: the provider to write to; writing puts the client on "
        "(or back on) that provider's list.",
    )
    body: str = strawberry.field(description="The text: not blank, at most 5000 characters.")

    def to_data(self) -> OutgoingMessage:
        return OutgoingMessage(
            body=self.body, client_id=self.client_id, provider_id=self.provider_id
        )


@strawberry.type(description="The message was sent.")
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
    strawberry.union("MessageResult", description="The message sent, or why not."),
]


@strawberry.type(description="The conversation, as changed.")
class MessageThreadSuccess:
    thread: MessageThreadType = strawberry.field(description="The conversation now.")


MessageThreadResult = Annotated[
    MessageThreadSuccess | AuthError | NotFoundError,
    strawberry.union("MessageThreadResult", description="The conversation, or why not."),
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
        self, info: Info, first: First = 20, after: After = None
    ) -> MessageThreadConnection:
        try:
            page = await message_threads.list_threads(
                info.context.actor, 20 if first is None else first, after
            )
        except DomainError as error:
            raise public_error(error) from None
        return connection(
            MessageThreadConnection, MessageThreadEdge, page, MessageThreadType.from_view, after
        )

    @strawberry.field(description="One of the viewer's conversations; null for any other id.")
    async def message_thread(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description=THREAD_ID)]
    ) -> MessageThreadType | None:
        view = await message_threads.get_thread(info.context.actor, id)
        return MessageThreadType.from_view(view) if view else None

    @strawberry.field(description="A provider's public profile, for a client to message.")
    async def provider(
        self,
        id: Annotated[strawberry.ID, strawberry.argument(description="The provider's id.")],
    ) -> ProviderProfile | None:
        provider = await message_threads.provider_profile(id)
        return ProviderProfile.from_model(provider) if provider else None


@strawberry.type
class MessagingMutations:
    @strawberry.mutation(
        description="Send a message (a provider needs a confirmed e-mail); the other side gets "
        "it live (messageReceived) and by e-mail, at most one e-mail per conversation every 15 "
        "minutes; rate-limited."
    )
    async def send_message(
        self,
        info: Info,
        input: Annotated[SendMessageInput, strawberry.argument(description="The message.")],
    ) -> MessageResult:
        ctx = info.context
        try:
            sent = await messaging.send_message(ctx.services, ctx.actor, input.to_data())
        except DomainError as error:
            return expected(error, InputError, AuthError, NotFoundError, InvalidStateError)
        return MessageSuccess(
            sent_message=MessageType.from_model(sent.message),
            thread=MessageThreadType.from_view(sent.thread),
        )

    @strawberry.mutation(
        description="Mark everything the other side wrote in a conversation as read by the viewer."
    )
    async def mark_thread_read(
        self,
        info: Info,
        thread_id: Annotated[strawberry.ID, strawberry.argument(description=THREAD_ID)],
    ) -> MessageThreadResult:
        try:
            view = await messaging.mark_thread_read(info.context.actor, thread_id)
        except DomainError as error:
            return expected(error, AuthError, NotFoundError)
        return MessageThreadSuccess(thread=MessageThreadType.from_view(view))
