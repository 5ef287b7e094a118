"""Shared fixtures: a real embedded Redis, SQLite or PostgreSQL, and the app under uvicorn."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from tortoise import Tortoise

from caseload.app import create_app
from caseload.db import apply_migrations
from caseload.embedded_redis import EmbeddedRedis, free_port
from caseload.settings import Settings
from tests.support import Api, ensure_default_forms


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture(scope="session")
def test_settings(
    tmp_path_factory: pytest.TempPathFactory, redis_server: EmbeddedRedis
) -> Settings:
    data_dir = tmp_path_factory.mktemp("var")
    database_url = os.environ.get("CASELOAD_TEST_DATABASE_URL") or (
        f"sqlite://{data_dir / 'test.sqlite3'}?busy_timeout=15000&synchronous=NORMAL"
    )
    port = free_port()
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        redis_url=redis_server.url,
        port=port,
        public_url=f"http://127.0.0.1:{port}",
        secret_key="test-secret",
        # argon2 at its cheapest: the suite hashes hundreds of passwords; the production cost
        # is a setting (CASELOAD_PASSWORD_HASH_TIME_COST / _MEMORY_COST)
        password_hash_time_cost=1,
        password_hash_memory_cost=64,
        signup_max_per_hour=100,  # every sign-up of a test comes from 127.0.0.1
        ws_connection_init_timeout_seconds=1.0,
    )


async def _truncate_all() -> None:
    conn = Tortoise.get_connection("default")
    tables = [model._meta.db_table for model in Tortoise.apps["models"].values()]
    if conn.capabilities.dialect == "postgres":
        await conn.execute_script(f"TRUNCATE {', '.join(tables)} CASCADE")
    else:
        await conn.execute_script("".join(f"DELETE FROM {t};" for t in tables))


@pytest.fixture(scope="session")
async def live_server(test_settings: Settings) -> AsyncIterator[str]:
    await apply_migrations(test_settings)
    app = create_app(test_settings)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=test_settings.port,
        log_level="warning",
        ws="websockets-sansio",
        lifespan="on",
        proxy_headers=False,  # as `caseload serve`: only CASELOAD_TRUSTED_PROXIES is believed
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{test_settings.port}"
    server.should_exit = True
    await task


@pytest.fixture
async def api(
    live_server: str, test_settings: Settings, redis_server: EmbeddedRedis
) -> AsyncIterator[Api]:
    """A clean database, Redis and mail folder, and an HTTP client for the running app."""
    await _truncate_all()
    await _seed_forms()
    import redis.asyncio as aioredis

    client = aioredis.from_url(redis_server.url)
    await client.flushall()
    await client.aclose()
    shutil.rmtree(Path(test_settings.mail_dir), ignore_errors=True)
    async with httpx.AsyncClient(timeout=30) as http:
        yield Api(url=live_server, settings=test_settings, http=http)


async def _seed_forms() -> None:
    await ensure_default_forms()
