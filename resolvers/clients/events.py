"""Live 'client updated' events, published after commit to every provider listing the client.

Every write that changes a client's profile announces it here, in its unit of work, so this is
also where the list entries' copy of the profile's sort name is kept in step.
"""

from __future__ import annotations

from uuid import UUID

from models import Client, ProviderClient
from resolvers.effects import ClientsChanged, clients_channel
from resolvers.unit_of_work import UnitOfWork


async def announce_client_change(uow: UnitOfWork, client_id: UUID) -> None:
    await sync_sort_name(uow, client_id)
    rows = await ProviderClient.filter(client_id=client_id).using_db(uow.conn).values("provider_id")
    for row in rows:
        uow.publish(clients_channel(row["provider_id"]), ClientsChanged.of(client_id))


async def sync_sort_name(uow: UnitOfWork, client_id: UUID) -> None:
    """Copy the profile's sort name onto the entries showing it (the list's name index)."""
    names = await Client.filter(id=client_id).using_db(uow.conn).values_list("sort_name", flat=True)
    if not names:
        return
    name = str(names[0])
    await (
        ProviderClient.filter(client_id=client_id)
        .exclude(sort_name=name)
        .using_db(uow.conn)
        .update(sort_name=name)
    )


async def announce_clients_change(uow: UnitOfWork, client_ids: list[UUID]) -> None:
    """`announce_client_change` for many clients: one read, one event per provider."""
    if not client_ids:
        return
    rows = (
        await ProviderClient.filter(client_id__in=list(dict.fromkeys(client_ids)))
        .using_db(uow.conn)
        .values("provider_id", "client_id")
    )
    by_provider: dict[UUID, list[str]] = {}
    for row in rows:
        by_provider.setdefault(row["provider_id"], []).append(str(row["client_id"]))
    for provider_id, ids in by_provider.items():
        uow.publish(clients_channel(provider_id), ClientsChanged.of(*ids))
