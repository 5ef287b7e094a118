"""A transaction that collects outbox rows and live events, released only after commit."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from caseload.db import is_transient
from models import OutboxMessage
from resolvers.effects import EmailKind, Event, Job, outbox_batch_job_id, outbox_job_id
from resolvers.ports import Services

log = logging.getLogger(__name__)

ATTEMPTS = 3
FIRST_BACKOFF_SECONDS = 0.05

T = TypeVar("T")


class UnitOfWork:
    def __init__(self, conn: BaseDBAsyncClient) -> None:
        self.conn = conn
        self.outbox: list[OutboxMessage] = []
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.jobs: list[tuple[Job, tuple[Any, ...], str]] = []

    async def add_outbox(self, kind: EmailKind, payload: dict[str, Any]) -> OutboxMessage:
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

    def publish(self, channel: str, event: Event) -> None:
        """A live event on `channel` (see resolvers.effects), published after commit."""
        self.events.append((channel, event.to_json()))

    def enqueue(self, job: Job, *args: Any, job_id: str) -> None:
        """A job queued after commit; if Redis is away then, a sweeper queues it later."""
        self.jobs.append((job, args, job_id))


async def dispatch_outbox(services: Services, messages: list[OutboxMessage]) -> None:
    """Enqueue delivery; a Redis outage only delays it (the sweeper enqueues again).

    Many messages (the invitations of `addClients`) go as one batch job, as an import's do.
    """
    if len(messages) > 1:
        ids = [str(message.id) for message in messages]
        if not await services.queue.enqueue(
            Job.DELIVER_OUTBOX_BATCH, ids, job_id=outbox_batch_job_id(ids[0])
        ):
            log.warning("%d outbox messages left for the sweeper", len(ids))
        return
    for message in messages:
        queued = await services.queue.enqueue(
            Job.DELIVER_OUTBOX,
            str(message.id),
            job_id=outbox_job_id(message.id, message.attempts),
        )
        if not queued:
            log.warning("outbox message %s left for the sweeper", message.id)


async def release_effects(services: Services, uow: UnitOfWork) -> None:
    """The effects of a committed transaction: enqueue its outbox rows, publish its events."""
    await dispatch_outbox(services, uow.outbox)
    for job, args, job_id in uow.jobs:
        if not await services.queue.enqueue(job, *args, job_id=job_id):
            log.warning("job %s left for the sweeper", job_id)
    for channel, event in uow.events:
        await services.events.publish(channel, event)


async def in_transaction_retried(
    work: Callable[[BaseDBAsyncClient], Awaitable[T]], *, attempts: int = ATTEMPTS
) -> T:
    """Run `work` in a transaction; a transient failure runs it again on a fresh one.

    Transient: SQLite busy or locked, PostgreSQL serialization failure or deadlock, met at
    BEGIN, in the body or at COMMIT. Any other error propagates at once. `work` must not
    change anything outside the database that a second run would repeat.
    """
    for attempt in range(1, attempts + 1):
        try:
            async with in_transaction() as conn:
                return await work(conn)
        except Exception as error:
            if attempt == attempts or not is_transient(error):
                raise
            log.warning(
                "transient database failure (%s), attempt %d of %d",
                type(error).__name__,
                attempt,
                attempts,
            )
            delay = FIRST_BACKOFF_SECONDS * 2 ** (attempt - 1)
            await asyncio.sleep(delay * (0.5 + random.random()))
    raise AssertionError("unreachable")  # pragma: no cover


async def in_unit_of_work(
    services: Services,
    work: Callable[[UnitOfWork], Awaitable[T]],
    *,
    attempts: int = ATTEMPTS,
) -> T:
    """`work` in a unit of work, retried like `in_transaction_retried`.

    Each attempt gets its own unit of work, so only the effects (outbox dispatch, events)
    of the attempt that committed are released.
    """
    committed: list[UnitOfWork] = []

    async def attempt(conn: BaseDBAsyncClient) -> T:
        committed.clear()
        uow = UnitOfWork(conn)
        result = await work(uow)
        committed.append(uow)
        return result

    result = await in_transaction_retried(attempt, attempts=attempts)
    await release_effects(services, committed[0])
    return result
