"""Live 'client updated' events, published after commit to every provider listing the client."""

from __future__ import annotations

from uuid import UUID

from models import ProviderClient
from resolvers.effects import ClientsChanged, clients_channel
from resolvers.unit_of_work import UnitOfWork


async def announce_client_change(uow: UnitOfWork, client_id: UUID) -> None:
    rows = await ProviderClient.filter(client_id=client_id).using_db(uow.conn).values("provider_id")
    for row in rows:
        uow.publish(clients_channel(row["provider_id"]), ClientsChanged.of(client_id))
