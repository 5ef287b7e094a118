"""One Redis pub/sub connection per API process for every subscription, and the caps on them."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
import redis.asyncio as aioredis
import websockets

from tests.support import (
    Api,
    add_client,
    api_process,
    live_subscriptions,
    sign_up_provider,
    socket_close_code,
)

UPDATED = "subscription { clientUpdated { id } }"


class Socket:
    """A graphql-transport-ws connection that runs several operations."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def start(self, op_id: str, query: str = UPDATED) -> None:
        message = {"id": op_id, "type": "subscribe", "payload": {"query": query}}
        await self.ws.send(json.dumps(message))

    async def complete(self, op_id: str) -> None:
        await self.ws.send(json.dumps({"id": op_id, "type": "complete"}))

    async def message(self, timeout: float = 5.0) -> dict[str, Any]:
        while True:
            raw = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if raw.get("type") not in ("ping", "pong"):
                return raw


@asynccontextmanager
async def socket(api: Api, token: str) -> AsyncIterator[Socket]:
    async with websockets.connect(
        f"{api.ws_url}/graphql", subprotocols=["graphql-transport-ws"]
    ) as ws:
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        await ws.send(json.dumps(init))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert ack["type"] == "connection_ack", ack
        yield Socket(ws)


def _errors(message: dict[str, Any]) -> list[dict[str, Any]]:
    if message["type"] == "error":
        return list(message["payload"])
    assert message["type"] == "next", message
    return list(message["payload"].get("errors") or [])


async def _refused(sock: Socket, op_id: str) -> dict[str, Any]:
    await sock.start(op_id)
    while True:
        message = await sock.message()
        if message.get("id") == op_id and message["type"] in ("error", "next"):
            errors = _errors(message)
            assert len(errors) == 1, message
            return errors[0]


async def _slots_reach(redis: Any, count: int, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (found := await live_subscriptions(redis)) != count:
        assert asyncio.get_running_loop().time() < deadline, f"{found} live, not {count}"
        await asyncio.sleep(0.02)


async def test_100_subscriptions_share_one_pubsub_connection_and_all_get_events(
    api: Api,
) -> None:
    redis = aioredis.from_url(api.settings.redis_url or "")
    providers = [await sign_up_provider(api) for _ in range(10)]
    try:
        before = len(await redis.client_list())
        async with AsyncExitStack() as stack:
            sockets: list[tuple[str, Socket]] = []
            for token, _ in providers:
                for _ in range(10):  # the default cap of sockets per account
                    sock = await stack.enter_async_context(socket(api, token))
                    await sock.start("1")
                    sockets.append((token, sock))
            await _slots_reach(redis, 100)
            during = len(await redis.client_list())
            print(f"Redis clients: {before} before, {during} with 100 subscriptions")
            assert during - before <= 5, (before, during)

            added = {
                token: (await add_client(api, token))["client"]["id"] for token, _ in providers
            }
            for token, sock in sockets:
                message = await sock.message(timeout=5)
                assert message["type"] == "next", message
                assert message["payload"]["data"]["clientUpdated"]["id"] == added[token]
        await _slots_reach(redis, 0)
        channels = [c for c in await redis.pubsub_channels() if c.startswith(b"provider-clients")]
        assert channels == [], "channels left subscribed after every socket closed"
    finally:
        await redis.aclose()


async def test_subscriptions_per_socket_are_capped(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    redis = aioredis.from_url(api.settings.redis_url or "")
    try:
        async with (
            api_process(api, max_subscriptions_per_socket=2) as capped,
            socket(capped, token) as sock,
        ):
            await sock.start("1")
            await sock.start("2")
            await _slots_reach(redis, 2)
            error = await _refused(sock, "3")
            assert error["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
            assert "2 live subscriptions" in error["message"], error
            await sock.complete("1")
            await _slots_reach(redis, 1)
            await sock.start("4")
            await _slots_reach(redis, 2)
    finally:
        await redis.aclose()


async def test_subscriptions_per_account_are_counted_across_api_processes(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    redis = aioredis.from_url(api.settings.redis_url or "")
    try:
        async with (
            api_process(api, max_subscriptions_per_user=3) as capped,
            socket(api, token) as here,
            socket(capped, token) as there,
        ):
            await here.start("1")
            await here.start("2")
            await there.start("1")
            await _slots_reach(redis, 3)
            error = await _refused(there, "2")
            assert error["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
            assert "3 live subscriptions" in error["message"], error
            await here.complete("1")
            await _slots_reach(redis, 2)
            await there.start("3")
            await _slots_reach(redis, 3)
    finally:
        await redis.aclose()


async def test_sockets_per_account_are_counted_across_api_processes(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    other_token, _ = await sign_up_provider(api)
    async with api_process(api, max_sockets_per_user=2) as capped:
        async with socket(api, token), socket(api, token):
            async with websockets.connect(
                f"{capped.ws_url}/graphql", subprotocols=["graphql-transport-ws"]
            ) as ws:
                init = {"type": "connection_init", "payload": {"authorization": token}}
                await ws.send(json.dumps(init))
                try:
                    message = await asyncio.wait_for(ws.recv(), 5)
                    raise AssertionError(f"a third socket was accepted: {message!r}")
                except websockets.exceptions.ConnectionClosed as closed:
                    assert closed.rcvd is not None and closed.rcvd.code == 4429
                    assert "2 connections open" in closed.rcvd.reason
            # Another account is not affected, and a closed socket frees its slot.
            async with socket(capped, other_token):
                pass
        async with socket(capped, token), socket(capped, token):
            assert await socket_close_code(capped, {"authorization": token}) == 4429


async def test_after_a_redis_outage_the_process_resubscribes_and_rechecks_sessions(
    api: Api, redis_server: Any, caplog: Any
) -> None:
    """Events come again after Redis returns, and a log-out made while it was away (its
    announcement lost) still closes the socket: the process re-reads its sockets' sessions."""
    token, _ = await sign_up_provider(api)
    leaving, _ = await sign_up_provider(api)
    caplog.set_level(logging.INFO, logger="caseload.pubsub")
    async with socket(api, token) as staying, socket(api, leaving) as gone:
        await staying.start("1")
        await gone.start("1")
        redis_server.stop()
        try:
            assert await api.gql("mutation { logOut }", token=leaving) == {"logOut": True}
        finally:
            redis_server.restart()
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            await gone.message(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
        redis = aioredis.from_url(api.settings.redis_url or "")
        try:
            channels: list[bytes] = []
            for _ in range(250):
                channels = await redis.pubsub_channels("provider-clients:*")
                if channels:
                    break
                await asyncio.sleep(0.02)
            assert len(channels) == 1, "the channel was not subscribed again"
        finally:
            await redis.aclose()
        added = (await add_client(api, token))["client"]["id"]
        event = await staying.message(timeout=5)
        assert event["payload"]["data"]["clientUpdated"]["id"] == added
    lost = [r for r in caplog.records if "pub/sub lost Redis" in r.getMessage()]
    back = [r for r in caplog.records if "pub/sub reconnected" in r.getMessage()]
    assert len(lost) == 1 and len(back) == 1, [r.getMessage() for r in caplog.records]
