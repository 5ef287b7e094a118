"""A stream that falls behind sends each client once, and the fan-out yields to requests."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from contextlib import AsyncExitStack

import redis.asyncio as aioredis

from resolvers.effects import clients_channel
from schema.live import FanOutPacer
from tests.support import Api, count_queries, sign_up_provider, subscribe_listening

ADD_CLIENTS = """
mutation($i: AddClientsInput!) { addClients(input: $i) { __typename
  ... on AddClientsSuccess { results { ... on AddClientSuccess { client { id } } } } } }
"""
ME = "{ me { provider { id } } }"
UPDATED = "subscription { clientUpdated { id } }"


async def _clients(api: Api, token: str, n: int) -> list[str]:
    ids: list[str] = []
    for start in range(0, n, 100):
        items = [
            {"firstName": f"C{i}", "lastName": "Fan", "email": f"fan-{i}@example.org"}
            for i in range(start, min(n, start + 100))
        ]
        data = await api.gql(ADD_CLIENTS, {"i": {"clients": items}}, token)
        ids += [r["client"]["id"] for r in data["addClients"]["results"]]
    return ids


async def test_events_that_pile_up_are_coalesced_each_client_sent_once(api: Api) -> None:
    """Five events naming the same 300 clients at once: 300 messages, not 1,500."""
    token, _ = await sign_up_provider(api)
    provider_id = (await api.gql(ME, token=token))["me"]["provider"]["id"]
    ids = await _clients(api, token, 300)
    redis = aioredis.from_url(api.settings.redis_url or "")
    try:
        async with subscribe_listening(api, UPDATED, token=token) as sub:
            # one transaction: the five events reach the server together, before it sends
            async with redis.pipeline(transaction=True) as pipe:
                for _ in range(5):
                    pipe.publish(clients_channel(provider_id), json.dumps({"client_ids": ids}))
                await pipe.execute()
            got = [(await sub.next())["clientUpdated"]["id"] for _ in range(len(ids))]
            # and nothing more: a sixth event's client is the next message
            await redis.publish(
                clients_channel(provider_id), json.dumps({"client_ids": [ids[150]]})
            )
            after = (await sub.next())["clientUpdated"]["id"]
    finally:
        await redis.aclose()
    assert Counter(got) == Counter(ids)  # each once, in the order first announced
    assert got == ids
    assert after == ids[150]


async def test_the_pacer_lets_a_few_items_go_per_turn_of_the_event_loop() -> None:
    pacer = FanOutPacer(per_turn=3)
    turn = 0
    running = True

    def tick() -> None:
        nonlocal turn
        turn += 1
        if running:
            asyncio.get_running_loop().call_soon(tick)

    asyncio.get_running_loop().call_soon(tick)
    went: list[int] = []

    async def stream() -> None:
        for _ in range(4):
            await pacer.turn()
            went.append(turn)

    await asyncio.gather(*(stream() for _ in range(10)))
    running = False
    per_turn = Counter(went)
    assert len(went) == 40
    assert max(per_turn.values()) == 3  # never more than three items in one turn
    assert len(per_turn) >= 40 // 3


async def test_a_cancelled_waiter_gives_its_place_up() -> None:
    pacer = FanOutPacer(per_turn=1)
    waiting = [asyncio.ensure_future(pacer.turn()) for _ in range(3)]
    waiting[0].cancel()
    await asyncio.gather(waiting[1], waiting[2])
    assert waiting[0].cancelled()
    assert waiting[1].done() and waiting[2].done()


async def test_two_tabs_of_one_provider_read_an_event_once(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    provider_id = (await api.gql(ME, token=token))["me"]["provider"]["id"]
    ids = await _clients(api, token, 150)
    redis = aioredis.from_url(api.settings.redis_url or "")
    counts = []
    try:
        async with AsyncExitStack() as stack:
            tabs = []
            for n in (1, 2):
                tabs.append(
                    await stack.enter_async_context(subscribe_listening(api, UPDATED, token=token))
                )
                with count_queries() as counter:
                    await redis.publish(
                        clients_channel(provider_id), json.dumps({"client_ids": ids})
                    )
                    for tab in tabs:
                        got = [(await tab.next())["clientUpdated"]["id"] for _ in ids]
                        assert got == ids
                counts.append((n, counter.count))
    finally:
        await redis.aclose()
    assert counts == [(1, 2), (2, 2)]  # a query per chunk of 100, whatever the number of tabs
