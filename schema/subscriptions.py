"""Live subscriptions, relayed from Redis pub/sub so any API process serves any event."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from resolvers import client_list, message_feed
from resolvers.client_events import client_channel
from resolvers.errors import DomainError
from resolvers.policies import require_provider
from schema.clients import ClientType
from schema.context import Info
from schema.errors import public_error
from schema.live import keep_session_alive
from schema.messaging import MessageType


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def client_updated(self, info: Info) -> AsyncGenerator[ClientType, None]:
        ctx = info.context
        try:
            provider_id = require_provider(ctx.actor)
        except DomainError as error:
            raise public_error(error) from None
        async with ctx.services.events.listen(client_channel(provider_id)) as events:
            async for event in keep_session_alive(ctx, events):
                ids = event.get("client_ids") or [event["client_id"]]
                for client_id in ids:
                    view = await client_list.get_client(ctx.actor, client_id, audit_read=False)
                    if view is not None:
                        yield ClientType.from_view(view)

    @strawberry.subscription(description="New messages in the viewer's threads, or in one.")
    async def message_received(
        self, info: Info, thread_id: strawberry.ID | None = None
    ) -> AsyncGenerator[MessageType, None]:
        ctx = info.context
        try:
            feed = await message_feed.open_feed(ctx.actor, thread_id)
        except DomainError as error:
            raise public_error(error) from None
        async with ctx.services.events.listen(feed.channel) as events:
            async for event in keep_session_alive(ctx, events):
                message = await message_feed.delivered(ctx.actor, feed, event)
                if message is not None:
                    yield MessageType.from_model(message)
