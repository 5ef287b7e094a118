"""SQLite's write lock held by another connection, as a busy worker holds it."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tortoise import Tortoise

from tests.support.api import Api


@asynccontextmanager
async def write_lock_held_elsewhere(api: Api, seconds: float) -> AsyncIterator[None]:
    """Another connection holds SQLite's write lock for `seconds`, while this one waits 0.2 s."""
    conn = Tortoise.get_connection("default")
    other = sqlite3.connect(
        api.settings.resolved_database_url().removeprefix("sqlite://").split("?")[0]
    )
    await conn.execute_script("PRAGMA busy_timeout=200")
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE form_documents SET title = title WHERE 0")
        release = asyncio.get_running_loop().call_later(seconds, other.commit)
        try:
            yield
        finally:
            release.cancel()
            other.rollback()
    finally:
        other.close()
        await conn.execute_script("PRAGMA busy_timeout=15000")
