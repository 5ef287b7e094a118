"""Live 'client updated' events, published after commit to every provider listing the client."""

from __future__ import annotations

from uuid import UUID

from models import ProviderClient
from resolvers.unit_of_work import UnitOfWork


def client_channel(provider_id: UUID | str) -> str:
    return f"provider-clients:{provider_id}"


async def announce_client_change(uow: UnitOfWork, client_id: UUID) -> None:
    rows = await ProviderClient.filter(client_id=client_id).using_db(uow.conn).values("provider_id")
    for row in rows:
        uow.publish(client_channel(row["provider_id"]), {"client_id": str(client_id)})
