"""The GraphQL client over real HTTP and WebSocket: queries, subscriptions, a second API process."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import redis.asyncio as aioredis
import websockets
from websockets.typing import Subprotocol

from caseload.embedded_redis import free_port
from caseload.settings import Settings
from tests.support.paths import REPO


@dataclass
class Api:
    url: str
    settings: Settings
    http: httpx.AsyncClient
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://")

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return await self.http.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
        )

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """The data of a query that must not produce top-level errors."""
        response = await self.post(query, variables, token)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:  # noqa: ARG002 - logging.Handler's signature
        self.count += 1


@contextmanager
def count_queries() -> Iterator[_Counter]:
    """Counts SQL statements Tortoise sends (it logs each one at DEBUG)."""
    logger = logging.getLogger("tortoise.db_client")
    counter = _Counter()
    old_level, old_propagate = logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(counter)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


class Subscription:
    """One graphql-transport-ws subscription on its own socket."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def message(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next protocol message for the operation (next, error or complete)."""
        while True:
            raw = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if raw.get("type") in ("ping", "pong"):
                continue
            return raw

    async def next(self, timeout: float = 5.0) -> dict[str, Any]:
        """The data of the next event; fails on an error or completion."""
        message = await self.message(timeout)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message["payload"]
        return message["payload"]["data"]

    async def rest(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Every remaining event until the server completes the subscription."""
        events: list[dict[str, Any]] = []
        while True:
            message = await self.message(timeout)
            if message["type"] == "complete":
                return events
            assert message["type"] == "next", message
            events.append(message["payload"]["data"])


@asynccontextmanager
async def subscribe(
    api: Api, query: str, variables: dict[str, Any] | None = None, token: str | None = None
) -> AsyncIterator[Subscription]:
    async with websockets.connect(
        f"{api.ws_url}/graphql", subprotocols=[Subprotocol("graphql-transport-ws")]
    ) as ws:
        payload = {"authorization": f"Bearer {token}"} if token else {}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert ack["type"] == "connection_ack", ack
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": query, "variables": variables or {}},
                }
            )
        )
        yield Subscription(ws)


async def live_subscriptions(redis: Any) -> int:
    """Live subscriptions held on every API process (their slots in Redis).

    A subscription takes its slot once it listens on Redis, so a count that went up means
    the stream is live: an event published from then on reaches it.
    """
    total = 0
    async for key in redis.scan_iter(match="live:subscriptions:*"):
        total += await redis.zcard(key)
    return int(total)


@asynccontextmanager
async def subscribe_listening(
    api: Api,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
    *,
    timeout: float = 3.0,
) -> AsyncIterator[Subscription]:
    """`subscribe`, returning once the server listens on Redis pub/sub.

    For streams without a first event (clientUpdated, messageReceived): an event published
    before the server subscribed to its channel would be lost, and the test would be flaky.
    """
    redis = aioredis.Redis.from_url(api.settings.redis_url or "")
    try:
        before = await live_subscriptions(redis)
        async with subscribe(api, query, variables, token) as subscription:
            deadline = asyncio.get_running_loop().time() + timeout
            while await live_subscriptions(redis) <= before:
                assert asyncio.get_running_loop().time() < deadline, "server never subscribed"
                await asyncio.sleep(0.01)
            yield subscription
    finally:
        await redis.aclose()


async def socket_close_code(
    api: Api, payload: dict[str, Any] | None, *, timeout: float = 5.0
) -> int | None:
    """Open a socket, send connection_init with `payload` (None: send nothing) and return the
    code the server closes it with; fails if it acknowledges instead."""
    async with websockets.connect(
        f"{api.ws_url}/graphql", subprotocols=[Subprotocol("graphql-transport-ws")]
    ) as ws:
        if payload is not None:
            await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        try:
            message = await asyncio.wait_for(ws.recv(), timeout)
        except websockets.exceptions.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        raise AssertionError(f"the socket stayed open: {message!r}")


@asynccontextmanager
async def api_process(api: Api, **settings: Any) -> AsyncIterator[Api]:
    """Another API process (uvicorn in a subprocess) on the same database and Redis.

    `settings` override the test settings in that process only (e.g. session_idle_seconds=2).
    """
    port = free_port()
    own = api.settings.model_copy(
        update={"port": port, "public_url": f"http://127.0.0.1:{port}", **settings}
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASELOAD_")}
    for name, value in own.model_dump(exclude_none=True).items():
        env[f"CASELOAD_{name.upper()}"] = (
            json.dumps(value) if isinstance(value, list | dict) else str(value)
        )
    command = [
        sys.executable, "-m", "uvicorn", "caseload.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--ws", "websockets-sansio",
        "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            assert process.poll() is None, "the API process exited"
            try:
                # ready to serve: no worker runs in these tests, so /readyz itself stays 503
                body = (await api.http.get(f"{url}/readyz")).json()
                if body.get("database") and body.get("redis"):
                    break
            except httpx.TransportError:
                pass
            assert asyncio.get_running_loop().time() < deadline, "API process never ready"
            await asyncio.sleep(0.1)
        yield Api(url=url, settings=own, http=api.http)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def assert_no_event(subscription: Subscription, within: float = 0.5) -> None:
    """Nothing arrives on the subscription for `within` seconds."""
    try:
        message = await subscription.message(within)
    except TimeoutError:
        return
    raise AssertionError(f"unexpected event: {message}")
