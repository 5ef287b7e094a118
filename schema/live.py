"""Helpers of live subscriptions: public errors, and ending a stream when its session ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from graphql import GraphQLError

from resolvers.sessions import session_is_live
from schema.context import Context
from schema.loaders import Loaders

T = TypeVar("T")


async def keep_session_alive(ctx: Context, source: AsyncIterator[T]) -> AsyncIterator[T]:
    """Relay `source` until the subscriber's session is revoked or expires."""
    actor = ctx.actor
    check_every = ctx.services.settings.live_session_check_seconds
    iterator = source.__aiter__()
    pending: asyncio.Task[Any] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=check_every)
            if not done:
                if (
                    actor is not None
                    and actor.session_id is not None
                    and not await session_is_live(ctx.services.settings, actor.session_id)
                ):
                    raise GraphQLError(
                        "Your session has ended. Log in again.",
                        extensions={"code": "UNAUTHENTICATED"},
                    )
                continue
            try:
                item = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            # A DataLoader caches for its lifetime and this context lives as long as the
            # socket: each event is resolved with fresh loaders, or it would show stale data.
            ctx.loaders = Loaders()
            yield item
    finally:
        if pending is not None:
            pending.cancel()
