"""DataLoaders made per request: each batches by ids and answers in key order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from strawberry.dataloader import DataLoader

from resolvers.onboarding import clients_with_current_forms


async def _forms_acknowledged(client_ids: Sequence[UUID]) -> list[bool]:
    done = await clients_with_current_forms(client_ids)
    return [client_id in done for client_id in client_ids]


def _forms_loader() -> DataLoader[UUID, bool]:
    return DataLoader(load_fn=_forms_acknowledged)


@dataclass
class Loaders:
    forms_acknowledged: DataLoader[UUID, bool] = field(default_factory=_forms_loader)
