"""A live event costs the same queries however many clients it names (an import batch: 5,000)."""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis

from resolvers.effects import clients_channel, import_channel
from tests.support import (
    CLIENT_FIELDS,
    Api,
    count_queries,
    sign_up_provider,
    start_import,
    subscribe,
    subscribe_listening,
)

ADD_CLIENTS = """
mutation($i: AddClientsInput!) { addClients(input: $i) { __typename
  ... on AddClientsSuccess { results { ... on AddClientSuccess { client { id } } } } } }
"""
ME = "{ me { provider { id } } }"
UPDATED = f"subscription {{ clientUpdated {{ {CLIENT_FIELDS} messageThread {{ id }} }} }}"
PROGRESS = "subscription($id: ID!) { clientImportProgress(id: $id) { id status processedRows } }"


async def _clients(api: Api, token: str, n: int) -> list[str]:
    items = [
        {"firstName": f"C{i}", "lastName": "Live", "email": f"live-{i}@example.org"}
        for i in range(n)
    ]
    data = await api.gql(ADD_CLIENTS, {"i": {"clients": items}}, token)
    return [r["client"]["id"] for r in data["addClients"]["results"]]


async def test_client_updated_reads_an_event_in_the_same_queries_for_1_or_50_clients(
    api: Api,
) -> None:
    token, _ = await sign_up_provider(api)
    provider_id = (await api.gql(ME, token=token))["me"]["provider"]["id"]
    ids = await _clients(api, token, 50)
    stranger_token, _ = await sign_up_provider(api)
    foreign = await _clients(api, stranger_token, 1)
    redis = aioredis.from_url(api.settings.redis_url or "")
    counts: dict[int, int] = {}
    try:
        async with subscribe_listening(api, UPDATED, token=token) as sub:
            for n in (1, 50):
                # Another provider's client in the event is left out, not read one by one.
                event = {"client_ids": [*ids[:n], *foreign]}
                with count_queries() as counter:
                    await redis.publish(clients_channel(provider_id), json.dumps(event))
                    got: list[dict[str, Any]] = [
                        (await sub.next())["clientUpdated"] for _ in range(n)
                    ]
                counts[n] = counter.count
                assert [client["id"] for client in got] == ids[:n]
                assert all(client["onboarding"]["missingSteps"] for client in got)
    finally:
        await redis.aclose()
    print("queries per clientUpdated event", counts)
    assert counts[1] == counts[50], counts
    assert counts[50] <= 4, counts  # the clients, current forms, acknowledgements, threads


async def test_import_progress_relays_events_without_reading_the_database(api: Api) -> None:
    token, _ = await sign_up_provider(api)
    started = await start_import(api, token, b"First Name,Last Name,Email\nA,B,a@example.org\n")
    import_id = started["clientImport"]["id"]
    redis = aioredis.from_url(api.settings.redis_url or "")
    try:
        async with subscribe(api, PROGRESS, {"id": import_id}, token) as sub:
            first = (await sub.next())["clientImportProgress"]
            assert first["status"] == "QUEUED"
            snapshot = {
                "status": "RUNNING",
                "processed_rows": 1,
                "created_count": 1,
                "linked_count": 0,
                "already_in_list_count": 0,
                "duplicate_count": 0,
                "error_count": 0,
                "warning_count": 0,
                "total_rows": 1,
                "failure_reason": None,
                "started_at": None,
                "finished_at": None,
            }
            with count_queries() as counter:
                await redis.publish(import_channel(import_id), json.dumps(snapshot))
                event = (await sub.next())["clientImportProgress"]
            assert event == {"id": import_id, "status": "RUNNING", "processedRows": 1}
            assert counter.count == 0
    finally:
        await redis.aclose()
