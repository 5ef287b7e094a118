"""DataLoaders made per request: each batches by ids and answers in key order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from strawberry.dataloader import DataLoader

from models import MessageThread, Role
from resolvers.messaging.threads import threads_by_pair, unread_counts
from resolvers.onboarding.steps import clients_with_current_forms


async def _forms_acknowledged(client_ids: Sequence[UUID]) -> list[bool]:
    done = await clients_with_current_forms(client_ids)
    return [client_id in done for client_id in client_ids]


def _forms_loader() -> DataLoader[UUID, bool]:
    return DataLoader(load_fn=_forms_acknowledged)


def _unread_loader() -> DataLoader[tuple[UUID, Role], int]:
    return DataLoader(load_fn=unread_counts)


def _thread_loader() -> DataLoader[tuple[UUID, UUID], MessageThread | None]:
    return DataLoader(load_fn=threads_by_pair)


@dataclass
class Loaders:
    forms_acknowledged: DataLoader[UUID, bool] = field(default_factory=_forms_loader)
    # (thread id, reader role) -> unread messages from the other side
    unread_messages: DataLoader[tuple[UUID, Role], int] = field(default_factory=_unread_loader)
    # (provider id, client id) -> their thread, for Client.messageThread
    thread_by_pair: DataLoader[tuple[UUID, UUID], MessageThread | None] = field(
        default_factory=_thread_loader
    )
