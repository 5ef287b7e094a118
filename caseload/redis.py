"""Redis-backed runtime services: the arq job queue, pub/sub live events and rate limits."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import Any

from arq.connections import ArqRedis, RedisSettings, create_pool
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from caseload.pubsub import PubSubBroker
from caseload.settings import Settings
from resolvers.ports import Services

log = logging.getLogger(__name__)


def redis_settings(url: str) -> RedisSettings:
    settings = RedisSettings.from_dsn(url)
    settings.conn_timeout = 2
    settings.conn_retries = 3
    settings.conn_retry_delay = 1
    return settings


# How long a command waits for a free connection of a bounded pool before it fails (as a
# RedisError, which every caller already handles).
POOL_WAIT_SECONDS = 10


async def connect(url: str, *, max_connections: int | None = None) -> ArqRedis:
    """arq's pool; with `max_connections`, commands beyond it wait for a free connection.

    redis-py's own pool opens a connection for every concurrent command, so a burst of
    requests (30 log-ins checking their counters) would leave an API process holding dozens.
    """
    redis = await create_pool(redis_settings(url))
    if max_connections is not None:
        unbounded = redis.connection_pool
        redis.connection_pool = BlockingConnectionPool(
            connection_class=unbounded.connection_class,
            max_connections=max_connections,
            timeout=POOL_WAIT_SECONDS,
            **unbounded.connection_kwargs,
        )
        await unbounded.disconnect()
    return redis


class ArqQueue:
    def __init__(self, redis: ArqRedis) -> None:
        self.redis = redis

    async def enqueue(
        self, function: str, *args: Any, job_id: str, defer_seconds: float | None = None
    ) -> bool:
        try:
            await self.redis.enqueue_job(function, *args, _job_id=job_id, _defer_by=defer_seconds)
        except (RedisError, OSError) as error:
            log.warning("could not enqueue %s (%s): %s", function, job_id, type(error).__name__)
            return False
        return True


class RedisEvents:
    """Live events through Redis pub/sub, so every API process sees every event.

    In an API process every listener shares the process's one pub/sub connection (`broker`);
    a one-off caller (the CLI) without a broker gets a connection of its own.
    """

    def __init__(self, redis: Redis, broker: PubSubBroker | None = None) -> None:
        self.redis = redis
        self.broker = broker

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        try:
            await self.redis.publish(channel, json.dumps(message))
        except (RedisError, OSError) as error:
            log.warning(
                "event on %s not published: %s", channel.split(":")[0], type(error).__name__
            )

    def listen(self, *channels: str) -> AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]]:
        if self.broker is not None:
            return self.broker.listen(*channels)
        return self._listen_alone(*channels)

    @asynccontextmanager
    async def _listen_alone(self, *channels: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(*channels)

        async def messages() -> AsyncIterator[dict[str, Any]]:
            async for raw in pubsub.listen():
                if raw.get("type") == "message":
                    yield json.loads(raw["data"])

        try:
            yield messages()
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]


class RedisRateLimiter:
    """Fixed-window counters. When Redis is away it fails open and says so in the log."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> bool:
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(f"rl:{key}")
                pipe.expire(f"rl:{key}", window_seconds, nx=True)
                count, _ = await pipe.execute()
        except (RedisError, OSError):
            log.warning("rate limiter unavailable; allowing")
            return True
        return int(count) <= limit

    async def count(self, key: str) -> int:
        try:
            value = await self.redis.get(f"rl:{key}")
        except (RedisError, OSError):
            return 0
        return int(value or 0)

    async def reset(self, key: str) -> None:
        with suppress(RedisError, OSError):
            await self.redis.delete(f"rl:{key}")


def make_services(
    settings: Settings, redis: ArqRedis, broker: PubSubBroker | None = None
) -> Services:
    return Services(
        settings=settings,
        queue=ArqQueue(redis),
        events=RedisEvents(redis, broker),
        limiter=RedisRateLimiter(redis),
    )
