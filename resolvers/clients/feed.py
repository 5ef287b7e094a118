"""The live feed of a provider's changed clients: coalesced, read a chunk at a time, shared."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import Any

from resolvers.actor import Actor, ProviderActor
from resolvers.clients.listing import get_clients
from resolvers.clients.views import ClientView
from resolvers.effects import ClientsChanged, clients_channel
from resolvers.policies import require_provider
from resolvers.ports import Listen

# Ids read per query: building the models of thousands of rows is CPU work that would hold
# the event loop in one go.
EVENT_CHUNK = 100
# A read of a chunk is kept this long for the provider's other streams (its open tabs).
_KEEP_READS_SECONDS = 2.0
_reads: dict[tuple[Any, ...], tuple[float, asyncio.Future[list[ClientView]]]] = {}


class _Pending:
    """Ids announced and not yet sent, each once, in the order first announced.

    A stream that falls behind (an import announcing thousands of clients a second, then
    their invitations) sends each client once as it is when read, not once per event: the
    backlog is bounded by the number of clients, never by the number of events.
    """

    def __init__(self) -> None:
        self.ids: dict[str, None] = {}
        # When the newest event was taken in: a read begun since shows at least its state.
        self.since = 0.0
        self.failure: BaseException | None = None
        self._arrived = asyncio.Event()

    def add(self, event: dict[str, Any]) -> None:
        for client_id in ClientsChanged.from_json(event).client_ids:
            self.ids.setdefault(client_id, None)
        self.since = time.monotonic()
        self._arrived.set()

    def fail(self, error: BaseException) -> None:
        self.failure = error
        self._arrived.set()

    async def take(self, most: int) -> tuple[list[str], float]:
        while not self.ids:
            if self.failure is not None:
                raise self.failure
            self._arrived.clear()
            await self._arrived.wait()
        chunk = list(itertools.islice(self.ids, most))
        for client_id in chunk:
            del self.ids[client_id]
        return chunk, self.since


async def _collect(events: AsyncIterator[dict[str, Any]], pending: _Pending) -> None:
    try:
        async for event in events:
            pending.add(event)
    except Exception as error:  # noqa: BLE001 - handed to the stream, which raises it
        pending.fail(error)


async def _read(provider: ProviderActor, ids: list[str], since: float) -> list[ClientView]:
    """One query for the chunk, shared by every local stream of the provider that asks for
    the same ids (a provider's open tabs move in step): a read begun after the stream's
    newest event arrived shows that event's changes, whichever stream began it."""
    key = (provider.provider_id, tuple(ids))
    kept = _reads.get(key)
    if kept is not None and kept[0] >= since:
        read = kept[1]
    else:
        now = time.monotonic()
        read = asyncio.ensure_future(get_clients(provider, ids))
        _reads[key] = (now, read)
        for old in [k for k, (began, _) in _reads.items() if now - began > _KEEP_READS_SECONDS]:
            del _reads[old]
    # a stream that ends while it waits must not cancel the read the others wait for
    return await asyncio.shield(read)


async def follow_clients(actor: Actor | None, listen: Listen) -> AsyncIterator[list[ClientView]]:
    """The provider's clients named by change events, a chunk of at most EVENT_CHUNK at a time.

    Events are taken in as they arrive (so the process's bounded queue never overflows while
    the stream sends) and coalesced: a client announced again before it was sent is sent
    once, as it is when read.
    """
    provider = require_provider(actor)
    async with listen(clients_channel(provider.provider_id)) as events:
        pending = _Pending()
        collector = asyncio.create_task(_collect(events, pending), name="client-feed")
        try:
            while True:
                ids, since = await pending.take(EVENT_CHUNK)
                views = await _read(provider, ids, since)
                if views:
                    yield views
        finally:
            collector.cancel()
            with suppress(asyncio.CancelledError):
                await collector
