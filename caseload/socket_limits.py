"""Slots per account (open sockets, live subscriptions), counted in Redis across API processes."""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# A slot is a member of a sorted set scored by when it lapses. Its process renews it every
# TTL/3, so the slots of a process that died without giving them back lapse within TTL.
SLOT_TTL_SECONDS = 60

_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if not redis.call('ZSCORE', KEYS[1], ARGV[4]) then
  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
    return 0
  end
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


class SlotCounter:
    """Takes and gives back slots; when Redis is away it allows and says so in the log."""

    def __init__(self, redis: Redis, *, ttl_seconds: int = SLOT_TTL_SECONDS) -> None:
        self.redis = redis
        self.ttl_seconds = ttl_seconds
        self._take = redis.register_script(_TAKE)
        self._held: dict[str, set[str]] = {}
        self._renewer: asyncio.Task[None] | None = None

    async def take(self, key: str, member: str, *, limit: int) -> bool:
        now = time.time()
        try:
            taken = await self._take(
                keys=[key], args=[now, now + self.ttl_seconds, limit, member, self.ttl_seconds]
            )
        except (RedisError, OSError) as error:
            log.warning("connection limits unavailable (%s); allowing", type(error).__name__)
            taken = 1
        if taken:
            self._held.setdefault(key, set()).add(member)
        return bool(taken)

    async def give_back(self, key: str, member: str) -> None:
        held = self._held.get(key)
        if held is not None:
            held.discard(member)
            if not held:
                del self._held[key]
        with suppress(RedisError, OSError):
            await self.redis.zrem(key, member)

    def start(self) -> None:
        self._renewer = asyncio.create_task(self._renew_forever(), name="slot-renewal")

    async def stop(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with suppress(asyncio.CancelledError):
                await self._renewer

    async def renew(self) -> None:
        """Push back the lapse time of every slot this process holds, in one round trip."""
        if not self._held:
            return
        lapse = time.time() + self.ttl_seconds
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, members in self._held.items():
                pipe.zadd(key, dict.fromkeys(members, lapse))
                pipe.expire(key, self.ttl_seconds)
            await pipe.execute()

    async def _renew_forever(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.ttl_seconds / 3)
            try:
                await self.renew()
                failing = False
            except (RedisError, OSError) as error:
                if not failing:
                    log.warning("connection slots not renewed (%s)", type(error).__name__)
                failing = True
