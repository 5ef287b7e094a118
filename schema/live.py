"""Live subscriptions: a slot on the socket, the channel's events, fresh loaders per event."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from graphql import GraphQLError

from resolvers.errors import DomainError
from schema.context import Context
from schema.errors import public_error
from schema.loaders import Loaders


@asynccontextmanager
async def live_events(ctx: Context, *channels: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
    """Listen on `channels`, holding one of the socket's subscription slots.

    Subscribed once entered, so state read afterwards misses no event. The session needs no
    polling here: the socket itself closes when the session is revoked or expires.
    """
    if ctx.socket is None:
        raise GraphQLError(
            "Subscriptions run over a WebSocket (graphql-transport-ws) only.",
            extensions={"code": "BAD_REQUEST"},
        )
    try:
        # Listening first: a taken slot then means a live stream (tests wait on the slots).
        async with ctx.services.events.listen(*channels) as events, ctx.socket.subscription():
            yield _with_fresh_loaders(ctx, events)
    except DomainError as error:
        raise public_error(error) from None


async def _with_fresh_loaders(
    ctx: Context, events: AsyncIterator[dict[str, Any]]
) -> AsyncIterator[dict[str, Any]]:
    async for event in events:
        # A DataLoader caches for its lifetime and this context lives as long as the
        # socket: each event is resolved with fresh loaders, or it would show stale data.
        ctx.loaders = Loaders()
        yield event
