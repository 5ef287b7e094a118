"""Periodic jobs ride out a database or Redis outage with one warning line, not a traceback.

The next run, seconds later, does the work; nothing is lost by skipping one. Any other error
is still raised, so arq logs it in full.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import asyncpg
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tortoise.exceptions import DBConnectionError, OperationalError

log = logging.getLogger(__name__)

# What a lost or refused connection looks like from Tortoise, asyncpg, aiosqlite and redis-py.
OUTAGES: tuple[type[BaseException], ...] = (
    OSError,
    DBConnectionError,
    OperationalError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.InterfaceError,
    RedisConnectionError,
    RedisTimeoutError,
)

Periodic = TypeVar("Periodic", bound=Callable[[dict[str, Any]], Awaitable[int]])


def skips_outages(job: Periodic) -> Periodic:
    @functools.wraps(job)
    async def run(ctx: dict[str, Any]) -> int:
        try:
            return await job(ctx)
        except OUTAGES as error:
            log.warning(
                "%s skipped: database or Redis unreachable (%s); the next run retries",
                job.__name__,
                type(error).__name__,
            )
            return 0

    return cast(Periodic, run)
