"""The per-process pub/sub broker against a real Redis: one SUBSCRIBE per channel, bounded queues."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from caseload.embedded_redis import EmbeddedRedis
from caseload.pubsub import PubSubBroker
from resolvers.errors import EventsLagged


@pytest.fixture
async def broker(redis_server: EmbeddedRedis) -> AsyncIterator[PubSubBroker]:
    broker = PubSubBroker(redis_server.url, queue_size=3)
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


@pytest.fixture
async def redis(redis_server: EmbeddedRedis) -> AsyncIterator[Any]:
    client = aioredis.from_url(redis_server.url)
    try:
        yield client
    finally:
        await client.aclose()


async def _numsub(redis: Any, channel: str) -> int:
    return int((await redis.pubsub_numsub(channel))[0][1])


async def test_a_listener_misses_no_event_published_once_it_entered(
    broker: PubSubBroker, redis: Any
) -> None:
    for n in range(20):
        async with broker.listen(f"fresh:{n}") as events:
            await redis.publish(f"fresh:{n}", json.dumps({"n": n}))
            assert await asyncio.wait_for(anext(events), 2) == {"n": n}


async def test_listeners_of_one_channel_share_one_subscription(
    broker: PubSubBroker, redis: Any
) -> None:
    async with broker.listen("shared") as first:
        async with broker.listen("shared") as second, broker.listen("shared", "other") as third:
            assert await _numsub(redis, "shared") == 1
            await redis.publish("shared", json.dumps({"hello": 1}))
            await redis.publish("other", json.dumps({"hello": 2}))
            for events in (first, second, third):
                assert await asyncio.wait_for(anext(events), 2) == {"hello": 1}
            assert await asyncio.wait_for(anext(third), 2) == {"hello": 2}
        assert await _numsub(redis, "shared") == 1
        assert broker.channel_count == 1
    for _ in range(100):
        if await _numsub(redis, "shared") == 0:
            break
        await asyncio.sleep(0.01)
    assert await _numsub(redis, "shared") == 0
    assert broker.channel_count == 0


async def test_a_listener_that_falls_behind_is_ended_not_fed_a_partial_stream(
    broker: PubSubBroker, redis: Any
) -> None:
    async with broker.listen("slow") as slow, broker.listen("slow") as quick:
        for n in range(5):  # the queues hold 3; only `quick` keeps up
            await redis.publish("slow", json.dumps({"n": n}))
            assert await asyncio.wait_for(anext(quick), 2) == {"n": n}
        with pytest.raises(EventsLagged):
            await asyncio.wait_for(anext(slow), 2)
