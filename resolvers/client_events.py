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
