"""Messaging over HTTP: threads, the client list it fills, unread counts, pages and e-mail nudges.

`MessageSuccess.message` (a Message) and `MutationError.message` (a String) cannot share one
selection set, so the error's text is aliased `reason`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from models import Message, MessageThread, OutboxMessage, ProviderClient, User
from resolvers.messaging.sending import MESSAGES_PER_MINUTE
from tests.support import (
    Api,
    accept_invitation,
    add_client,
    client_id_of,
    count_queries,
    mail_files,
    provider_id_of,
    read_mail,
    run_worker,
    send,
    sign_up_client,
    sign_up_provider,
)

MARK_READ = """
mutation($id: ID!) { markThreadRead(threadId: $id) {
  __typename
  ... on MessageThreadSuccess { thread { id unreadCount } }
  ... on MutationError { code message }
} }
"""
THREADS = """
query($first: Int, $after: String) { messageThreads(first: $first, after: $after) {
  pageInfo { hasNextPage endCursor }
  edges { cursor node { id unreadCount lastMessageAt provider { id displayName }
    client { id displayName addedVia onboarding { complete } } } }
} }
"""
THREAD = """
query($id: ID!, $first: Int, $after: String) { messageThread(id: $id) {
  id unreadCount
  messages(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor } edges { node { id body senderRole readAt } }
  }
} }
"""
CLIENTS = """
query($archived: Boolean, $first: Int) { clients(archived: $archived, first: $first) {
  edges { node { id addedVia archived messageThread { id unreadCount } } }
} }
"""
ARCHIVE = "mutation($id: ID!) { archiveClient(id: $id) { __typename } }"


async def list_nodes(api: Api, token: str, **variables: Any) -> list[dict[str, Any]]:
    data = await api.gql(CLIENTS, variables, token)
    return [edge["node"] for edge in data["clients"]["edges"]]


async def test_a_client_who_writes_to_a_new_provider_joins_their_list(api: Api) -> None:
    provider_token, _ = await sign_up_provider(api, name="Dr Ana")
    provider_id = await provider_id_of(api, provider_token)
    client_token, _ = await sign_up_client(api)
    client_id = await client_id_of(api, client_token)
    assert await list_nodes(api, provider_token) == []

    profile = (
        await api.gql(
            "query($id: ID!) { provider(id: $id) { id displayName practiceName } }",
            {"id": provider_id},
            client_token,
        )
    )["provider"]
    assert profile == {"id": provider_id, "displayName": "Dr Ana", "practiceName": None}

    sent = await send(api, client_token, "  Hello, can we talk?  ", providerId=provider_id)
    assert sent["__typename"] == "MessageSuccess"
    assert sent["message"]["body"] == "Hello, can we talk?"
    assert sent["message"]["senderRole"] == "CLIENT"
    assert sent["thread"]["provider"]["id"] == provider_id
    assert sent["thread"]["client"]["id"] == client_id
    assert sent["thread"]["unreadCount"] == 0  # nothing unread for the sender

    [listed] = await list_nodes(api, provider_token)
    assert listed["id"] == client_id
    assert listed["addedVia"] == "MESSAGE"
    assert listed["messageThread"] == {"id": sent["thread"]["id"], "unreadCount": 1}

    again = await send(api, client_token, "Second", providerId=provider_id)
    assert again["thread"]["id"] == sent["thread"]["id"]
    reply = await send(api, provider_token, "Of course", clientId=client_id)
    assert reply["thread"]["id"] == sent["thread"]["id"]
    assert reply["message"]["senderRole"] == "PROVIDER"
    assert await MessageThread.all().count() == 1
    assert await ProviderClient.all().count() == 1
    stored = await Message.get(id=sent["message"]["id"])
    assert stored.body == "Hello, can we talk?"


async def test_parallel_first_messages_make_one_thread_and_one_list_entry(api: Api) -> None:
    provider_token, _ = await sign_up_provider(api)
    provider_id = await provider_id_of(api, provider_token)
    client_token, _ = await sign_up_client(api)
    results = await asyncio.gather(
        *(send(api, client_token, f"hello {n}", providerId=provider_id) for n in range(5))
    )
    assert {r["__typename"] for r in results} == {"MessageSuccess"}
    assert len({r["thread"]["id"] for r in results}) == 1
    assert await MessageThread.all().count() == 1
    assert await ProviderClient.all().count() == 1
    assert await Message.all().count() == 5


async def test_an_archived_client_who_writes_comes_back(api: Api) -> None:
    provider_token, _ = await sign_up_provider(api)
    provider_id = await provider_id_of(api, provider_token)
    client_token, _ = await sign_up_client(api, email="back@example.org")
    await add_client(api, provider_token, email="back@example.org")
    await accept_invitation(api, "back@example.org")
    client_id = await client_id_of(api, client_token)
    await api.gql(ARCHIVE, {"id": client_id}, provider_token)
    assert await list_nodes(api, provider_token) == []

    # the provider may still write to an archived client, which keeps them archived
    to_archived = await send(api, provider_token, "Checking in", clientId=client_id)
    assert to_archived["__typename"] == "MessageSuccess"
    assert await list_nodes(api, provider_token) == []

    await send(api, client_token, "I'd like to come back", providerId=provider_id)
    [back] = await list_nodes(api, provider_token)
    assert back["id"] == client_id
    assert back["archived"] is False
    assert back["addedVia"] == "MANUAL"  # how they first came stays
    assert await list_nodes(api, provider_token, archived=True) == []


async def test_who_may_write_to_whom(api: Api) -> None:
    provider_token, _ = await sign_up_provider(api)
    other_token, _ = await sign_up_provider(api)
    theirs = (await add_client(api, other_token))["client"]["id"]
    client_token, _ = await sign_up_client(api)
    provider_id = await provider_id_of(api, provider_token)

    for client_id in (theirs, "00000000-0000-0000-0000-000000000000", "garbage"):
        refused = await send(api, provider_token, "Hi", clientId=client_id)
        assert refused["__typename"] == "NotFoundError" and refused["code"] == "NOT_FOUND"
    missing = await send(api, provider_token, "Hi")
    assert missing["__typename"] == "InputError"
    assert [f["field"] for f in missing["fields"]] == ["clientId"]
    missing = await send(api, client_token, "Hi")
    assert [f["field"] for f in missing["fields"]] == ["providerId"]
    unknown = await send(api, client_token, "Hi", providerId="00000000-0000-0000-0000-000000000000")
    assert unknown["code"] == "NOT_FOUND"
    anonymous = await send(api, "", "Hi", providerId=provider_id)
    assert anonymous["__typename"] == "AuthError" and anonymous["code"] == "UNAUTHENTICATED"
    assert await Message.all().count() == 0
    assert await ProviderClient.filter(added_via="MESSAGE").count() == 0


async def test_bodies_are_trimmed_and_limited(api: Api) -> None:
    provider_token, _ = await sign_up_provider(api)
    client_id = (await add_client(api, provider_token))["client"]["id"]
    for body in ("", "   \n\t ", "x" * 5001, " " + "y" * 5001 + " "):
        refused = await send(api, provider_token, body, clientId=client_id)
        assert refused["__typename"] == "InputError"
        assert [f["field"] for f in refused["fields"]] == ["body"]
    longest = await send(api, provider_token, "  " + "é" * 5000 + "  ", clientId=client_id)
    assert longest["__typename"] == "MessageSuccess"
    assert len((await Message.get(id=longest["message"]["id"])).body) == 5000


async def test_threads_newest_first_with_unread_counts_and_mark_read(api: Api) -> None:
    provider_token, _ = await sign_up_provider(api)
    provider_id = await provider_id_of(api, provider_token)
    tokens = []
    for _ in range(3):
        token, _ = await sign_up_client(api)
        tokens.append(token)
    threads = []
    for i, token in enumerate(tokens):
        for n in range(i + 1):
            sent = await send(api, token, f"message {n}", providerId=provider_id)
        threads.append(sent["thread"]["id"])
    await send(api, tokens[0], "latest", providerId=provider_id)

    page = (await api.gql(THREADS, {}, provider_token))["messageThreads"]
    nodes = [edge["node"] for edge in page["edges"]]
    assert [n["id"] for n in nodes] == [threads[0], threads[2], threads[1]]
    assert [n["unreadCount"] for n in nodes] == [2, 3, 2]
    assert all(n["client"]["addedVia"] == "MESSAGE" for n in nodes)
    first_page = (await api.gql(THREADS, {"first": 2}, provider_token))["messageThreads"]
    assert first_page["pageInfo"]["hasNextPage"] is True
    rest = (await api.gql(THREADS, {"after": first_page["pageInfo"]["endCursor"]}, provider_token))[
        "messageThreads"
    ]
    assert [e["node"]["id"] for e in rest["edges"]] == [threads[1]]

    # each client sees only their own thread
    own = (await api.gql(THREADS, {}, tokens[1]))["messageThreads"]["edges"]
    assert [e["node"]["id"] for e in own] == [threads[1]]
    assert own[0]["node"]["unreadCount"] == 0
    assert (await api.gql(THREAD, {"id": threads[0]}, tokens[1]))["messageThread"] is None

    outsider_token, _ = await sign_up_provider(api)
    refused = (await api.gql(MARK_READ, {"id": threads[2]}, outsider_token))["markThreadRead"]
    assert refused["__typename"] == "NotFoundError"
    assert (await api.gql(THREAD, {"id": threads[2]}, outsider_token))["messageThread"] is None

    read = (await api.gql(MARK_READ, {"id": threads[2]}, provider_token))["markThreadRead"]
    assert read["thread"] == {"id": threads[2], "unreadCount": 0}
    thread = (await api.gql(THREAD, {"id": threads[2]}, provider_token))["messageThread"]
    assert thread["unreadCount"] == 0
    assert all(e["node"]["readAt"] for e in thread["messages"]["edges"])

    # the provider's reply is unread for the client until they read it, not for the provider
    await send(api, provider_token, "Thanks", clientId=await client_id_of(api, tokens[2]))
    mine = (await api.gql(THREAD, {"id": threads[2]}, provider_token))["messageThread"]
    assert mine["unreadCount"] == 0
    theirs = (await api.gql(THREAD, {"id": threads[2]}, tokens[2]))["messageThread"]
    assert theirs["unreadCount"] == 1
    newest = theirs["messages"]["edges"][0]["node"]
    assert newest["body"] == "Thanks" and newest["readAt"] is None
    (await api.gql(MARK_READ, {"id": threads[2]}, tokens[2]))["markThreadRead"]
    after_read = (await api.gql(THREAD, {"id": threads[2]}, tokens[2]))["messageThread"]
    assert after_read["unreadCount"] == 0


async def test_messages_page_newest_first(api: Api) -> None:
    provider_token, _ = await sign_up_provider(api)
    client_id = (await add_client(api, provider_token))["client"]["id"]
    for n in range(7):
        sent = await send(api, provider_token, f"m{n}", clientId=client_id)
    thread_id = sent["thread"]["id"]
    bodies: list[str] = []
    after = None
    pages = 0
    while True:
        variables = {"id": thread_id, "first": 3, "after": after}
        data = (await api.gql(THREAD, variables, provider_token))["messageThread"]["messages"]
        bodies += [e["node"]["body"] for e in data["edges"]]
        pages += 1
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]
    assert bodies == ["m6", "m5", "m4", "m3", "m2", "m1", "m0"]
    assert pages == 3
    bad = await api.post(THREAD, {"id": thread_id, "after": "garbage"}, provider_token)
    assert bad.json()["errors"][0]["message"] != "Unexpected error."


async def test_new_message_email_at_most_every_15_minutes_without_content(api: Api) -> None:
    provider_token, _ = await sign_up_provider(api, name="Dr Quinzel")
    client_token, _ = await sign_up_client(api, email="canary@example.org")
    await add_client(api, provider_token, email="canary@example.org")
    await accept_invitation(api, "canary@example.org")
    client_id = await client_id_of(api, client_token)
    provider_id = await provider_id_of(api, provider_token)
    for n in range(3):
        sent = await send(api, provider_token, f"Secret content {n}", clientId=client_id)
    thread_id = sent["thread"]["id"]
    await send(api, client_token, "Secret reply", providerId=provider_id)
    nudges = await OutboxMessage.filter(kind="email.new_message").values("payload")
    client_user = await User.get(email="canary@example.org")
    assert len(nudges) == 2  # one to each side
    assert {"user_id": str(client_user.id), "thread_id": thread_id} in [
        n["payload"] for n in nudges
    ]

    await run_worker(api.settings)
    mails = [read_mail(p) for p in mail_files(api.settings)]
    nudged = [m for m in mails if m["Subject"] == "You have a new message"]
    assert sorted(m["To"] for m in nudged) == sorted(
        ["canary@example.org", (await User.get(role="PROVIDER")).email]
    )
    for mail in nudged:
        text = mail.get_content()
        assert f"{api.settings.public_url}/messages/{thread_id}" in text
        for secret in ("Secret", "content", "reply", "Quinzel", "Cleo", "Client", "canary"):
            assert secret not in text

    # 15 minutes on, the next message nudges again
    await MessageThread.filter(id=thread_id).update(
        client_notified_at=datetime.now(UTC) - timedelta(minutes=16)
    )
    await send(api, provider_token, "Later", clientId=client_id)
    assert await OutboxMessage.filter(kind="email.new_message").count() == 3
    # read before the worker got to it: the nudge is dropped
    await api.gql(MARK_READ, {"id": thread_id}, client_token)
    before = len(mail_files(api.settings))
    await run_worker(api.settings)
    assert len(mail_files(api.settings)) == before
    statuses = await OutboxMessage.filter(kind="email.new_message").values_list("status", flat=True)
    assert sorted(statuses) == ["CANCELLED", "SENT", "SENT"]


async def test_sending_is_rate_limited_per_account(api: Api) -> None:
    provider_token, _ = await sign_up_provider(api)
    client_id = (await add_client(api, provider_token))["client"]["id"]
    for n in range(MESSAGES_PER_MINUTE):
        assert (await send(api, provider_token, f"n{n}", clientId=client_id))[
            "__typename"
        ] == "MessageSuccess"
    limited = await send(api, provider_token, "one too many", clientId=client_id)
    assert limited["__typename"] == "AuthError" and limited["code"] == "RATE_LIMITED"
    assert await Message.all().count() == MESSAGES_PER_MINUTE
    other_token, _ = await sign_up_provider(api)
    other_client = (await add_client(api, other_token))["client"]["id"]
    assert (await send(api, other_token, "hi", clientId=other_client))[
        "__typename"
    ] == "MessageSuccess"


async def test_thread_and_client_lists_query_counts_do_not_grow(api: Api) -> None:
    provider_token, _ = await sign_up_provider(api)
    provider_id = await provider_id_of(api, provider_token)
    for _ in range(12):
        token, _ = await sign_up_client(api)
        await send(api, token, "hello", providerId=provider_id)
    counts = []
    for first in (1, 12):
        with count_queries() as counter:
            data = await api.gql(THREADS, {"first": first}, provider_token)
        assert len(data["messageThreads"]["edges"]) == first
        counts.append(counter.count)
    assert counts[0] == counts[1]
    assert counts[1] <= 7  # 6 reads, and the page's audit events in one INSERT
    counts = []
    for first in (1, 12):
        with count_queries() as counter:
            nodes = await list_nodes(api, provider_token, first=first)
        assert len(nodes) == first and all(n["messageThread"]["unreadCount"] == 1 for n in nodes)
        counts.append(counter.count)
    assert counts[0] == counts[1]
