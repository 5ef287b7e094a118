"""Live subscriptions: a slot on the socket, the channel's events, fresh loaders per event."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from weakref import WeakKeyDictionary

from graphql import GraphQLError

from resolvers.errors import DomainError
from schema.context import Context
from schema.errors import public_error
from schema.loaders import Loaders


@asynccontextmanager
async def live_events(
    ctx: Context, *channels: str, fresh_loaders: bool = True
) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
    """Listen on `channels`, holding one of the socket's subscription slots.

    Subscribed once entered, so state read afterwards misses no event. The session needs no
    polling here: the socket itself closes when the session is revoked or expires.
    `fresh_loaders=False`: the caller renews `ctx.loaders` itself (it reads apart from the
    arrival of events).
    """
    if ctx.socket is None:
        raise GraphQLError(
            "Subscriptions run over a WebSocket (graphql-transport-ws) only.",
            extensions={"code": "BAD_REQUEST"},
        )
    try:
        # Listening first: a taken slot then means a live stream (tests wait on the slots).
        async with ctx.services.events.listen(*channels) as events, ctx.socket.subscription():
            yield _with_fresh_loaders(ctx, events) if fresh_loaders else events
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


class FanOutPacer:
    """Lets at most `per_turn` live items go out per turn of the event loop, process-wide.

    Without it, every stream with a backlog (60 open tabs following 4 imports) sends an
    item on every turn, so one turn of the loop costs as many executions and sends as there
    are busy streams, and every request (a `/healthz` probe, an `addClient`) waits that
    long for each of its own steps. Paced, a turn carries at most `per_turn` items and the
    requests go first; the streams coalesce what piles up meanwhile (resolvers.clients.feed).
    """

    def __init__(self, per_turn: int) -> None:
        self.per_turn = per_turn
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._scheduled = False

    async def turn(self) -> None:
        loop = asyncio.get_running_loop()
        ticket: asyncio.Future[None] = loop.create_future()
        self._waiting.append(ticket)
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._grant)
        await ticket

    def _grant(self) -> None:
        # A callback scheduled during a turn runs in the next one: one grant per turn.
        granted = 0
        while self._waiting and granted < self.per_turn:
            ticket = self._waiting.popleft()
            if not ticket.done():  # a cancelled waiter gives its place up
                ticket.set_result(None)
                granted += 1
        if self._waiting:
            asyncio.get_running_loop().call_soon(self._grant)
        else:
            self._scheduled = False


# Live items per turn of the event loop, for every stream of the process together.
FAN_OUT_PER_TURN = 4
_pacers: WeakKeyDictionary[asyncio.AbstractEventLoop, FanOutPacer] = WeakKeyDictionary()


def fan_out_pacer() -> FanOutPacer:
    """The running loop's pacer (tests run several loops in one process)."""
    loop = asyncio.get_running_loop()
    pacer = _pacers.get(loop)
    if pacer is None:
        pacer = _pacers[loop] = FanOutPacer(FAN_OUT_PER_TURN)
    return pacer
