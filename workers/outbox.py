"""Delivery of outbox e-mail (claimed, idempotent, retried with backoff) and the sweeper."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from tortoise.expressions import Q

from caseload.mail import Mail, MailTransport
from models import OutboxMessage, OutboxStatus
from resolvers.effects import Job, outbox_sweep_job_id
from resolvers.ports import Services
from resolvers.unit_of_work import UnitOfWork, in_unit_of_work
from workers.emails import RENDERERS, Undeliverable
from workers.outages import skips_outages

log = logging.getLogger(__name__)

CLAIM_SECONDS = 60
SWEEP_BATCH = 500


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2**attempts, 600))


async def _claim(message_id: UUID) -> OutboxMessage | None:
    """Take the row for this worker; another worker holding a live claim keeps it."""
    now = datetime.now(UTC)
    claimed = await OutboxMessage.filter(
        Q(status=OutboxStatus.PENDING) | Q(status=OutboxStatus.SENDING, locked_until__lt=now),
        id=message_id,
    ).update(status=OutboxStatus.SENDING, locked_until=now + timedelta(seconds=CLAIM_SECONDS))
    if claimed != 1:
        return None
    return await OutboxMessage.get(id=message_id)


async def deliver(services: Services, transport: MailTransport, message_id: UUID) -> str:
    message = await _claim(message_id)
    if message is None:
        return "skipped"
    renderer = RENDERERS.get(message.kind)
    try:
        if renderer is None:
            raise Undeliverable(f"no renderer for {message.kind}")
        rendered = await renderer(services, message.payload)
    except Undeliverable as reason:
        await OutboxMessage.filter(id=message.id).update(
            status=OutboxStatus.CANCELLED, last_error=str(reason)[:200], locked_until=None
        )
        return "cancelled"
    try:
        await transport.send(
            Mail(
                to=rendered.to,
                subject=rendered.subject,
                text=rendered.text,
                message_id=str(message.id),
            )
        )
    except Exception as error:  # noqa: BLE001 - any transport failure is retried
        attempts = message.attempts + 1
        gave_up = attempts >= services.settings.outbox_max_attempts
        await OutboxMessage.filter(id=message.id).update(
            status=OutboxStatus.FAILED if gave_up else OutboxStatus.PENDING,
            attempts=attempts,
            available_at=datetime.now(UTC) + backoff(attempts),
            last_error=type(error).__name__,
            locked_until=None,
        )
        log.warning("outbox %s attempt %d failed: %s", message.id, attempts, type(error).__name__)
        if gave_up and rendered.after_give_up is not None:
            await rendered.after_give_up()
        return "retry"

    async def mark_sent(uow: UnitOfWork) -> None:
        await (
            OutboxMessage.filter(id=message.id)
            .using_db(uow.conn)
            .update(status=OutboxStatus.SENT, sent_at=datetime.now(UTC), locked_until=None)
        )
        if rendered.after_send is not None:
            await rendered.after_send(uow)

    # Sent is sent: a lock met here must not leave the row to be delivered twice.
    await in_unit_of_work(services, mark_sent)
    return "sent"


async def sweep(services: Services) -> int:
    """Enqueue what is due and not moving: a Redis outage at commit time, a retry, a dead worker."""
    now = datetime.now(UTC)
    grace = now - timedelta(seconds=services.settings.outbox_sweep_after_seconds)
    due = (
        await OutboxMessage.filter(
            Q(status=OutboxStatus.PENDING, available_at__lte=grace)
            | Q(status=OutboxStatus.PENDING, attempts__gt=0, available_at__lte=now)
            | Q(status=OutboxStatus.SENDING, locked_until__lt=now)
        )
        .limit(SWEEP_BATCH)
        .values("id", "attempts", "locked_until")
    )
    queued = 0
    for row in due:
        # A new id per attempt and per stale claim, so arq's kept results never block a retry.
        job_id = outbox_sweep_job_id(row["id"], row["attempts"], row["locked_until"])
        if await services.queue.enqueue(Job.DELIVER_OUTBOX, str(row["id"]), job_id=job_id):
            queued += 1
    return queued


async def deliver_outbox(ctx: dict[str, Any], message_id: str) -> str:
    return await deliver(ctx["services"], ctx["transport"], UUID(message_id))


@skips_outages
async def sweep_outbox(ctx: dict[str, Any]) -> int:
    return await sweep(ctx["services"])


async def deliver_outbox_batch(ctx: dict[str, Any], message_ids: list[str]) -> int:
    """Deliver the invitations of one import batch; each message is claimed on its own."""
    sent = 0
    for message_id in message_ids:
        if await deliver(ctx["services"], ctx["transport"], UUID(message_id)) == "sent":
            sent += 1
    return sent
