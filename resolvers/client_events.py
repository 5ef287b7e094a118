"""Live 'client updated' events, published after commit to every provider listing the client."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from models import ProviderClient
from resolvers.unit_of_work import UnitOfWork

_SHARED_READS = "_shared_reads"


def shared_reads(event: dict[str, Any]) -> dict[Any, asyncio.Future[Any]]:
    """A memo that lives as long as one received event, for the reads every stream makes.

    The process's pub/sub broker hands the same decoded event to every local listener; what
    one stream reads for it, the other streams of the same provider can use.
    """
    memo: dict[Any, asyncio.Future[Any]] = event.setdefault(_SHARED_READS, {})
    return memo


def client_channel(provider_id: UUID | str) -> str:
    return f"provider-clients:{provider_id}"


async def announce_client_change(uow: UnitOfWork, client_id: UUID) -> None:
    rows = await ProviderClient.filter(client_id=client_id).using_db(uow.conn).values("provider_id")
    for row in rows:
        uow.publish(client_channel(row["provider_id"]), {"client_id": str(client_id)})


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
        uow.publish(client_channel(provider_id), {"client_ids": ids})
