"""Live subscriptions, relayed from Redis pub/sub so any API process serves any event."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from resolvers import client_list
from resolvers.client_events import client_channel
from resolvers.errors import DomainError
from resolvers.policies import require_provider
from schema.clients import ClientType
from schema.context import Info
from schema.errors import public_error
from schema.live import keep_session_alive


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
                view = await client_list.get_client(ctx.actor, event["client_id"], audit_read=False)
                if view is not None:
                    yield ClientType.from_view(view)
