"""A transaction that collects outbox rows and live events, released only after commit."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models import OutboxMessage
from resolvers.ports import Services

log = logging.getLogger(__name__)

DELIVER_OUTBOX = "deliver_outbox"


def outbox_job_id(message_id: UUID, attempts: int) -> str:
    return f"outbox:{message_id}:{attempts}"


class UnitOfWork:
    def __init__(self, conn: BaseDBAsyncClient) -> None:
        self.conn = conn
        self.outbox: list[OutboxMessage] = []
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def add_outbox(self, kind: str, payload: dict[str, Any]) -> OutboxMessage:
        """Write an e-mail to send; `payload` holds ids only."""
        message = await OutboxMessage.create(
            kind=kind,
            payload=payload,
            # what the message is about (an account, or a list entry for an invitation)
            subject_id=payload.get("user_id") or payload.get("record_id"),
            available_at=datetime.now(UTC),
            using_db=self.conn,
        )
        self.outbox.append(message)
        return message

    def publish(self, channel: str, message: dict[str, Any]) -> None:
        self.events.append((channel, message))


async def dispatch_outbox(services: Services, messages: list[OutboxMessage]) -> None:
    """Enqueue delivery; a Redis outage only delays it (the sweeper enqueues again)."""
    for message in messages:
        queued = await services.queue.enqueue(
            DELIVER_OUTBOX, str(message.id), job_id=outbox_job_id(message.id, message.attempts)
        )
        if not queued:
            log.warning("outbox message %s left for the sweeper", message.id)


@asynccontextmanager
async def unit_of_work(services: Services) -> AsyncIterator[UnitOfWork]:
    async with in_transaction() as conn:
        uow = UnitOfWork(conn)
        yield uow
    await dispatch_outbox(services, uow.outbox)
    for channel, event in uow.events:
        await services.events.publish(channel, event)
