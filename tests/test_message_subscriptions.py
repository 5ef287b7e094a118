"""messageReceived over a real WebSocket: the other party gets it within a second, outsiders never."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis

from caseload.redis import connect, make_services
from resolvers.accounts.sessions import authenticate
from resolvers.effects import messages_channel
from resolvers.messaging.sending import OutgoingMessage, send_message
from tests.support import Api, sign_up_client, sign_up_provider, socket_close_code, subscribe

RECEIVED = """
subscription($threadId: ID) { messageReceived(threadId: $threadId) { id body senderRole sentAt } }
"""
SEND = """
mutation($i: SendMessageInput!) { sendMessage(input: $i) {
  __typename ... on MessageSuccess { message { id } thread { id } }
} }
"""
ME = "{ me { id provider { id } client { id } } }"


async def me(api: Api, token: str) -> dict[str, Any]:
    return (await api.gql(ME, token=token))["me"]


async def send(api: Api, token: str, body: str, **target: str) -> dict[str, Any]:
    result = (await api.gql(SEND, {"i": {"body": body, **target}}, token))["sendMessage"]
    assert result["__typename"] == "MessageSuccess", result
    return result


async def listening(api: Api, *user_ids: str, count: int = 1) -> None:
    """Wait until the server subscribed to each account's channel: the stream is then live."""
    redis = aioredis.from_url(api.settings.redis_url or "")
    try:
        for _ in range(200):
            numbers = dict(await redis.pubsub_numsub(*(messages_channel(u) for u in user_ids)))
            if all(n >= count for n in numbers.values()):
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"nobody listening: {numbers}")
    finally:
        await redis.aclose()


async def nothing_arrives(sub: Any, seconds: float = 0.4) -> None:
    with pytest.raises(TimeoutError):
        await sub.message(timeout=seconds)


async def refused_with(sub: Any) -> str:
    """The code of a subscription refused at the start: one error result, then completion."""
    message = await sub.message(timeout=2.0)
    assert message["type"] == "next" and message["payload"]["data"] is None, message
    assert (await sub.message(timeout=2.0))["type"] == "complete"
    return message["payload"]["errors"][0]["extensions"]["code"]


async def test_the_other_party_receives_a_message_within_a_second(api: Api) -> None:
    provider_token, _ = await sign_up_provider(api)
    provider = await me(api, provider_token)
    client_token, _ = await sign_up_client(api)
    client = await me(api, client_token)
    outsider_token, _ = await sign_up_provider(api)
    outsider = await me(api, outsider_token)
    stranger_token, _ = await sign_up_client(api)
    stranger = await me(api, stranger_token)

    async with (
        subscribe(api, RECEIVED, {}, provider_token) as provider_feed,
        subscribe(api, RECEIVED, {}, outsider_token) as outsider_feed,
        subscribe(api, RECEIVED, {}, stranger_token) as stranger_feed,
    ):
        await listening(api, provider["id"], outsider["id"], stranger["id"])
        started = asyncio.get_running_loop().time()
        sent = await send(api, client_token, "First words", providerId=provider["provider"]["id"])
        event = (await provider_feed.next(timeout=1.0))["messageReceived"]
        assert asyncio.get_running_loop().time() - started < 1.0
        assert event["id"] == sent["message"]["id"]
        assert event["body"] == "First words" and event["senderRole"] == "CLIENT"
        await nothing_arrives(outsider_feed)
        await nothing_arrives(stranger_feed)

        # the reply reaches the client, and the provider's own other sessions
        async with subscribe(api, RECEIVED, {}, client_token) as client_feed:
            await listening(api, client["id"])
            reply = await send(api, provider_token, "Welcome", clientId=client["client"]["id"])
            got = (await client_feed.next(timeout=1.0))["messageReceived"]
            assert got["id"] == reply["message"]["id"] and got["senderRole"] == "PROVIDER"
            echoed = (await provider_feed.next(timeout=1.0))["messageReceived"]
            assert echoed["id"] == reply["message"]["id"]
        await nothing_arrives(outsider_feed)


async def test_one_thread_only_and_never_someone_elses(api: Api) -> None:
    provider_token, _ = await sign_up_provider(api)
    provider = await me(api, provider_token)
    first_token, _ = await sign_up_client(api)
    second_token, _ = await sign_up_client(api)
    first = await send(api, first_token, "one", providerId=provider["provider"]["id"])
    await send(api, second_token, "two", providerId=provider["provider"]["id"])
    thread_id = first["thread"]["id"]

    async with subscribe(api, RECEIVED, {"threadId": thread_id}, provider_token) as feed:
        await listening(api, provider["id"])
        await send(api, second_token, "other thread", providerId=provider["provider"]["id"])
        await send(api, first_token, "this thread", providerId=provider["provider"]["id"])
        event = (await feed.next(timeout=1.0))["messageReceived"]
        assert event["body"] == "this thread"

    outsider_token, _ = await sign_up_provider(api)
    for token in (outsider_token, second_token):
        async with subscribe(api, RECEIVED, {"threadId": thread_id}, token) as refused:
            assert await refused_with(refused) == "NOT_FOUND"
    # Without an account there is no socket at all to subscribe on.
    assert await socket_close_code(api, {}) == 4403
    garbage = {"threadId": "garbage"}
    async with subscribe(api, RECEIVED, garbage, outsider_token) as refused:
        assert await refused_with(refused) == "NOT_FOUND"


async def test_a_message_accepted_by_another_api_process_arrives(api: Api) -> None:
    """Another process is another Redis connection: the event crosses Redis, not memory."""
    provider_token, _ = await sign_up_provider(api)
    provider = await me(api, provider_token)
    client_token, _ = await sign_up_client(api)
    actor = await authenticate(api.settings, client_token)
    redis = await connect(api.settings.redis_url or "")
    try:
        elsewhere = make_services(api.settings, redis)
        async with subscribe(api, RECEIVED, {}, provider_token) as feed:
            await listening(api, provider["id"])
            sent = await send_message(
                elsewhere,
                actor,
                OutgoingMessage(body="via another process", provider_id=provider["provider"]["id"]),
            )
            event = (await feed.next(timeout=1.0))["messageReceived"]
            assert event["id"] == str(sent.message.id)
    finally:
        await redis.aclose()
