"""Sockets live as long as their session: closed 4403 on log-out (any API process) and expiry."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import websockets

from models import ProviderClient
from models.accounts import Session
from tests.support import (
    Api,
    Subscription,
    api_process,
    sign_up_provider,
    socket_close_code,
    subscribe,
    subscribe_listening,
)

CLIENT_UPDATED = "subscription { clientUpdated { id } }"
ADD_CLIENT = """mutation { addClient(input: {firstName: "Ada", lastName: "L",
  email: "ada-after@example.org"}) { __typename } }"""


async def _closed_within(sub: Subscription, seconds: float) -> tuple[int | None, float]:
    """The close code of the socket and how long it took; fails on any message meanwhile."""
    started = time.monotonic()
    try:
        message = await sub.message(seconds)
    except websockets.exceptions.ConnectionClosed as closed:
        return (closed.rcvd.code if closed.rcvd else None), time.monotonic() - started
    raise AssertionError(f"a message instead of the close: {message}")


async def _operation_refused(sub: Subscription, query: str) -> None:
    """Sending `query` on a socket whose session ended runs nothing: the socket is closed."""
    try:
        await sub.ws.send(json.dumps({"id": "2", "type": "subscribe", "payload": {"query": query}}))
        message = await sub.message(2.0)
    except websockets.exceptions.ConnectionClosed as closed:
        assert closed.rcvd is None or closed.rcvd.code == 4403, closed
        return
    raise AssertionError(f"the operation ran: {message}")


async def test_log_out_closes_the_socket_on_another_api_process(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    async with (
        api_process(api) as other,
        subscribe_listening(other, CLIENT_UPDATED, token=token) as sub,
    ):
        assert await api.gql("mutation { logOut }", token=token) == {"logOut": True}
        code, took = await _closed_within(sub, 3.0)
        assert code == 4403
        assert took < 1.0, f"closed after {took:.2f} s"
        await _operation_refused(sub, ADD_CLIENT)
    assert await ProviderClient.all().count() == 0


async def test_log_out_closes_the_socket_on_the_same_process(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    async with subscribe_listening(api, CLIENT_UPDATED, token=token) as sub:
        assert await api.gql("mutation { logOut }", token=token) == {"logOut": True}
        code, took = await _closed_within(sub, 3.0)
        assert code == 4403 and took < 1.0, (code, took)


async def test_every_operation_checks_the_session_first(api: Api) -> None:
    """Even a revocation that was never announced stops the next operation on the socket."""
    token, _ = await sign_up_provider(api)
    async with subscribe_listening(api, CLIENT_UPDATED, token=token) as sub:
        revoked = await Session.filter(revoked_at=None).update(revoked_at=datetime.now(UTC))
        assert revoked == 1
        await _operation_refused(sub, ADD_CLIENT)
    assert await ProviderClient.all().count() == 0


async def test_an_expired_session_closes_the_socket_at_its_next_operation(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    async with subscribe_listening(api, CLIENT_UPDATED, token=token) as sub:
        past = datetime.now(UTC) - timedelta(minutes=1)
        assert await Session.filter(revoked_at=None).update(expires_at=past) == 1
        await _operation_refused(sub, "{ me { id } }")


async def test_a_socket_closes_when_its_session_idles_out(api: Api) -> None:
    async with api_process(api, session_idle_seconds=3) as short:
        token, _ = await sign_up_provider(short)
        async with subscribe(short, CLIENT_UPDATED, token=token) as sub:
            code, took = await _closed_within(sub, 6.0)
    assert code == 4403
    assert took < 4.0, f"closed after {took:.2f} s"


async def test_a_socket_closes_at_the_absolute_session_limit(api: Api) -> None:
    async with api_process(api, session_lifetime_seconds=3) as short:
        token, _ = await sign_up_provider(short)
        async with subscribe(short, CLIENT_UPDATED, token=token) as sub:
            code, took = await _closed_within(sub, 6.0)
    assert code == 4403
    assert took < 4.0, f"closed after {took:.2f} s"


async def test_a_live_session_keeps_its_subscription(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    async with subscribe(api, CLIENT_UPDATED, token=token) as sub:
        try:
            message = await sub.message(1.5)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected message: {message}")


async def test_connection_init_without_a_valid_token_is_closed_4403(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    expired_token, expired = await sign_up_provider(api)
    past = datetime.now(UTC) - timedelta(minutes=1)
    assert await Session.filter(user_id=expired["id"], revoked_at=None).update(expires_at=past) == 1
    refused: list[dict[str, Any]] = [
        {},
        {"authorization": "Bearer not-a-token"},
        {"Authorization": "Bearer not-a-token"},
        {"AUTHORIZATION": "not-a-token"},
        {"authorization": ""},
        {"authorization": 42},
        {"authorization": f"Basic {token}"},
        {"authorization": f"Bearer {expired_token}"},
    ]
    for payload in refused:
        assert await socket_close_code(api, payload) == 4403, payload
    for accepted in ({"Authorization": f"Bearer {token}"}, {"authorization": token}):
        async with websockets.connect(
            f"{api.ws_url}/graphql", subprotocols=["graphql-transport-ws"]
        ) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": accepted}))
            ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert ack["type"] == "connection_ack", accepted


async def test_a_socket_that_never_initialises_is_closed(api: Api) -> None:
    started = time.monotonic()
    assert await socket_close_code(api, None) == 4408
    assert time.monotonic() - started < api.settings.ws_connection_init_timeout_seconds + 1.5
