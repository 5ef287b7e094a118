"""The client list page reads one provider_clients index in order, for every orderBy, and the
entries' copy of the sort name follows every change of the profile each entry shows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tortoise import Tortoise

from models import Client, Provider, ProviderClient, Role
from resolvers.actor import Actor
from resolvers.bulk_sql import insert_rows
from resolvers.clients.listing import ClientListArgs, ClientOrder, list_clients, page_query
from resolvers.names import search_fields
from tests.support import (
    PASSWORD,
    Api,
    accept_invitation,
    add_client,
    sign_up_client,
    sign_up_provider,
)

NAMES = """query($order: ClientOrder) { clients(first: 100, orderBy: $order) {
  edges { node { legalLastName } } } }"""
UPDATE = """mutation($i: UpdateClientInput!) { updateClient(input: $i) { __typename } }"""
UPDATE_ME = """mutation($i: UpdateMyProfileInput!) { updateMyProfile(input: $i) { __typename } }"""
ENTRIES = 3_000


async def _seed(provider_id: uuid.UUID, count: int) -> None:
    """`count` entries on one provider's list, some archived, as an import writes them."""
    conn = Tortoise.get_connection("default")
    start = datetime.now(UTC)
    clients, links = [], []
    for i in range(count):
        client_id = uuid.uuid4()
        derived = search_fields(f"F{i % 31}", f"L{i:05d}", None, f"s{i}@example.org")
        clients.append(
            [client_id, None, f"F{i % 31}", f"L{i:05d}", *derived.values(), 0, start, start]
        )
        archived = start if i % 10 == 0 else None
        at = start + timedelta(seconds=i)
        links.append(
            [uuid.uuid4(), provider_id, client_id, f"s{i}@example.org", "IMPORT", at, archived]
        )
        links[-1].append(derived["sort_name"])
    columns = ["id", "user_id", "legal_first_name", "legal_last_name", "search_text"]
    columns += ["sort_name", "reminders_sent", "created_at", "updated_at"]
    await insert_rows(conn, Client, columns, clients)
    await insert_rows(
        conn,
        ProviderClient,
        [
            *("id", "provider_id", "client_id", "email", "added_via", "added_at"),
            *("archived_at", "sort_name"),
        ],
        links,
    )
    await conn.execute_script("ANALYZE")


async def _plan(sql: str) -> str:
    conn = Tortoise.get_connection("default")
    if conn.capabilities.dialect == "postgres":
        rows = await conn.execute_query_dict("EXPLAIN " + sql)
        return "\n".join(str(next(iter(row.values()))) for row in rows)
    rows = await conn.execute_query_dict("EXPLAIN QUERY PLAN " + sql)
    return "\n".join(str(row["detail"]) for row in rows)


async def _provider_id(api: Api) -> tuple[uuid.UUID, uuid.UUID]:
    _, viewer = await sign_up_provider(api)
    user_id = uuid.UUID(viewer["id"])
    provider = await Provider.get(user_id=user_id)
    return user_id, provider.id


async def test_every_order_reads_the_providers_index_without_sorting_the_list(api: Api) -> None:
    user_id, provider_id = await _provider_id(api)
    await _seed(provider_id, ENTRIES)
    await _seed((await _provider_id(api))[1], 500)  # another list in the same table
    actor = Actor(user_id=user_id, role=Role.PROVIDER, provider_id=provider_id)
    postgres = Tortoise.get_connection("default").capabilities.dialect == "postgres"
    for order in ClientOrder:
        for archived in (False, True):
            first = await list_clients(actor, ClientListArgs(order=order, archived=archived))
            after = first.items[-1][0]
            for args in (
                ClientListArgs(order=order, archived=archived),
                ClientListArgs(order=order, archived=archived, after=after),
            ):
                query, _, _ = await page_query(actor, args)
                plan = await _plan(query.sql(params_inline=True))
                # the archived view sorts the provider's archived entries only (a range on
                # archived_at); the active list, every page of it, sorts nothing
                if postgres:
                    assert "provider_clients" in plan and "Index" in plan, (order, plan)
                    assert archived or "Sort" not in plan, (order, plan)
                else:
                    assert "INDEX idx_provider_cl_provide" in plan, (order, plan)
                    assert archived or "TEMP B-TREE" not in plan, (order, plan)
            # and the page is right: the first 50 in that order, ties broken by id
            key = "sort_name" if order.name.startswith("NAME") else "added_at"
            descending = order.name.endswith("DESC")
            expected = await (
                ProviderClient.filter(provider_id=provider_id, archived_at__isnull=not archived)
                .order_by(f"{'-' if descending else ''}{key}", f"{'-' if descending else ''}id")
                .limit(50)
                .values_list("id", flat=True)
            )
            assert [v.link.id for _, v in first.items if v.link] == list(expected)


async def _last_names(api: Api, token: str) -> list[str]:
    data = await api.gql(NAMES, {"order": "NAME_ASC"}, token)
    return [e["node"]["legalLastName"] for e in data["clients"]["edges"]]


async def test_name_order_follows_entry_edits_acceptance_and_the_persons_own_edits(
    api: Api,
) -> None:
    token, _ = await sign_up_provider(api)
    ada = (await add_client(api, token, firstName="Ada", lastName="Lovelace"))["client"]
    await add_client(api, token, firstName="Grace", lastName="Hopper")
    assert await _last_names(api, token) == ["Hopper", "Lovelace"]

    # the provider's own edit of an entry it still manages
    renamed = {"i": {"id": ada["id"], "legalLastName": "Byron"}}
    assert (await api.gql(UPDATE, renamed, token))["updateClient"]["__typename"] == "ClientSuccess"
    assert await _last_names(api, token) == ["Byron", "Hopper"]

    # a person with an account of their own accepts an entry: their profile's name shows
    person_email = f"zed-{uuid.uuid4().hex[:6]}@example.org"
    person_token, _ = await sign_up_client(api, email=person_email)
    await add_client(api, token, firstName="Aaron", lastName="Aardvark", email=person_email)
    assert await _last_names(api, token) == ["Aardvark", "Byron", "Hopper"]
    await accept_invitation(api, person_email, password=PASSWORD)
    assert await _last_names(api, token) == ["Byron", "Client", "Hopper"]

    # the person's own edit of their profile moves the entry on every list showing it
    changed = {"i": {"legalLastName": "Zuse"}}
    result = await api.gql(UPDATE_ME, changed, person_token)
    assert result["updateMyProfile"]["__typename"] == "ClientSuccess", result
    assert await _last_names(api, token) == ["Byron", "Hopper", "Zuse"]
