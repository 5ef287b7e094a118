"""Group commit on SQLite: providers adding clients at once share one write transaction."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tortoise import Tortoise

from models import Message, MessageThread, OutboxMessage, ProviderClient
from resolvers.effects import EmailKind
from tests.support import (
    Api,
    provider_id_of,
    send,
    sign_up_client,
    sign_up_provider,
    write_lock_held_elsewhere,
)

ADD = """mutation($i: AddClientInput!) { addClient(input: $i) {
  __typename ... on AddClientSuccess { alreadyInList client { id } } } }"""


def _sqlite() -> bool:
    # PostgreSQL runs transactions side by side: there each addition commits on its own
    return bool(Tortoise.get_connection("default").capabilities.dialect == "sqlite")


@asynccontextmanager
async def statements_of_the_write_connection() -> AsyncIterator[list[str]]:
    """Every statement the process's one write connection runs (SQLite's trace callback)."""
    seen: list[str] = []
    if not _sqlite():
        yield seen
        return
    # aiosqlite's connection, and its sqlite3 connection, used only in aiosqlite's thread
    connection = Tortoise.get_connection("default")._connection
    raw = connection._conn
    guard = threading.Lock()

    def trace(statement: str) -> None:
        with guard:
            seen.append(statement.strip().upper())

    await connection._execute(raw.set_trace_callback, trace)
    try:
        yield seen
    finally:
        await connection._execute(raw.set_trace_callback, None)


@asynccontextmanager
async def lock_held_a_moment(api: Api) -> AsyncIterator[None]:
    """On SQLite, the worker's import batch holds the lock while the requests arrive."""
    if _sqlite():
        async with write_lock_held_elsewhere(api, 0.15):
            yield
    else:
        yield


async def _add(api: Api, token: str, email: str) -> dict[str, Any]:
    data = await api.gql(ADD, {"i": {"firstName": "Ada", "lastName": "L", "email": email}}, token)
    result: dict[str, Any] = data["addClient"]
    return result


async def test_concurrent_additions_share_one_transaction(api: Api) -> None:
    tokens = [(await sign_up_provider(api))[0] for _ in range(12)]
    # busy_timeout is 200 ms meanwhile: a group that waits longer fails and is retried
    async with statements_of_the_write_connection() as statements, lock_held_a_moment(api):
        results = await asyncio.gather(
            *(_add(api, token, f"c{n}@x.org") for n, token in enumerate(tokens))
        )
    assert [r["__typename"] for r in results] == ["AddClientSuccess"] * 12
    assert not any(r["alreadyInList"] for r in results)
    if _sqlite():
        committed = [s for s in statements if s.startswith("COMMIT")]
        # alone, each addition would have waited for the lock and committed on its own
        assert 1 <= len(committed) <= 2, statements
    assert await ProviderClient.all().count() == 12
    # each addition's invitation was written and handed over after the commit
    assert await OutboxMessage.filter(kind=EmailKind.INVITATION).count() == 12


async def test_a_clash_inside_a_group_answers_each_request_as_alone(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    others = [(await sign_up_provider(api))[0] for _ in range(3)]
    async with statements_of_the_write_connection() as statements, lock_held_a_moment(api):
        twice = [_add(api, token, "same@x.org") for _ in range(2)]
        rest = [_add(api, other, "else@x.org") for other in others]
        results = await asyncio.gather(*twice, *rest)
    assert [r["__typename"] for r in results] == ["AddClientSuccess"] * 5
    # the same address at once: one request added it, the other says it is already there
    assert sorted(r["alreadyInList"] for r in results[:2]) == [False, True]
    assert results[0]["client"]["id"] == results[1]["client"]["id"]
    assert not any(r["alreadyInList"] for r in results[2:])
    if _sqlite():  # the group rolled back once and its units ran again on their own
        assert any(s.startswith("ROLLBACK") for s in statements)
    assert await ProviderClient.filter(email="same@x.org").count() == 1
    assert await ProviderClient.filter(email="else@x.org").count() == 3
    assert await OutboxMessage.filter(kind=EmailKind.INVITATION).count() == 4


async def test_concurrent_messages_share_one_transaction(api: Api) -> None:
    provider_token, _ = await sign_up_provider(api)
    provider_id = await provider_id_of(api, provider_token)
    clients = [(await sign_up_client(api))[0] for _ in range(8)]
    async with statements_of_the_write_connection() as statements, lock_held_a_moment(api):
        sent = await asyncio.gather(
            *(
                send(api, token, f"hello {n}", providerId=provider_id)
                for n, token in enumerate(clients)
            )
        )
    assert [s["__typename"] for s in sent] == ["MessageSuccess"] * 8
    if _sqlite():
        committed = [s for s in statements if s.startswith("COMMIT")]
        assert 1 <= len(committed) <= 2, statements
    # each wrote its own thread and message, and put its writer on the provider's list
    assert await MessageThread.all().count() == 8
    assert await Message.all().count() == 8
    assert await ProviderClient.all().count() == 8
    # the provider is told of the new threads by e-mail, once per thread
    assert await OutboxMessage.filter(kind=EmailKind.NEW_MESSAGE).count() == 8
