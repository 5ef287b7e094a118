"""Apollo's automatic persisted queries: documents by SHA-256 in Redis, with a TTL and a cap."""

from __future__ import annotations

import hashlib
import re
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

_KEY = "apq:{}"
_INDEX = "apq:index"  # sorted set of hashes by registration time, to evict the oldest
_HASH = re.compile(r"^[0-9a-f]{64}$")


def sha256_hex(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest()


def valid_hash(value: object) -> bool:
    return isinstance(value, str) and _HASH.match(value) is not None


def may_persist(query: str) -> bool:
    """Only documents without string literals are kept: a literal could be a person's name."""
    return '"' not in query


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class PersistedQueries:
    def __init__(self, redis: Redis, *, ttl_seconds: int, max_entries: int) -> None:
        self.redis, self.ttl, self.max_entries = redis, ttl_seconds, max_entries

    async def get(self, sha256: str) -> str | None:
        try:
            value = await self.redis.get(_KEY.format(sha256))
        except RedisError:
            return None  # the client resends the document, as after any miss
        return None if value is None else _text(value)

    async def put(self, sha256: str, query: str) -> None:
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(_KEY.format(sha256), query, ex=self.ttl)
                pipe.zadd(_INDEX, {sha256: time.time()})
                pipe.zcard(_INDEX)
                *_, count = await pipe.execute()
            if count > self.max_entries:
                oldest = await self.redis.zpopmin(_INDEX, count - self.max_entries)
                if oldest:
                    await self.redis.delete(*(_KEY.format(_text(h)) for h, _ in oldest))
        except RedisError:
            return  # not stored: the next request for it is a miss, which clients handle
