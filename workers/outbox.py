"""Delivery of outbox e-mail (claimed, idempotent, retried with backoff) and the sweeper."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q

from caseload.mail import BatchTransport, Mail, MailTransport
from models import ClientImport, OutboxMessage, OutboxStatus
from resolvers.effects import (
    ImportProgress,
    Job,
    import_channel,
    outbox_batch_sweep_job_id,
    outbox_sweep_job_id,
)
from resolvers.imports.campaigns import Settled, record_settled
from resolvers.ports import Services
from resolvers.unit_of_work import UnitOfWork, in_transaction_retried, in_unit_of_work
from workers.emails import (
    BATCH_RENDERERS,
    RENDERERS,
    SENT_BEFORE,
    RenderedBatch,
    one_by_one,
)
from workers.outages import skips_outages

log = logging.getLogger(__name__)

T = TypeVar("T")

CLAIM_SECONDS = 60  # a claim's lease; the holder renews it every third of that
CLAIM_SLICE = 500  # ids per claiming UPDATE
DELIVERY_BATCH = 100  # e-mails per render, connection and settling transaction
SWEEP_BATCH = 500
SENT_MARK_SECONDS = 86400


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2**attempts, 600))


def _claimable(now: datetime) -> Q:
    return Q(status=OutboxStatus.PENDING) | Q(status=OutboxStatus.SENDING, locked_until__lt=now)


def _slices(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def _claim_ids(message_ids: Sequence[UUID]) -> list[UUID]:
    """Take the free rows among these for this worker, one UPDATE per slice, in one transaction.

    A row another worker holds under a live claim stays with it; a claim is a lease
    (`locked_until`) that the holder renews while it works and the sweeper waits out.
    """
    now = datetime.now(UTC)
    until = now + timedelta(seconds=CLAIM_SECONDS)

    async def work(conn: BaseDBAsyncClient) -> list[UUID]:
        taken: list[UUID] = []
        for part in _slices(message_ids, CLAIM_SLICE):
            # Model rows, not values_list: Tortoise drops FOR UPDATE from a values_list query,
            # and two workers then both took the same PENDING row on PostgreSQL.
            free = [
                row.id
                for row in await OutboxMessage.filter(_claimable(now), id__in=list(part))
                .using_db(conn)
                .select_for_update(skip_locked=True)
                .only("id")
            ]
            if free:
                # Claimable still (a row taken meanwhile is left out), and ours only if it
                # carries this claim's lease.
                await (
                    OutboxMessage.filter(_claimable(now), id__in=free)
                    .using_db(conn)
                    .update(status=OutboxStatus.SENDING, locked_until=until)
                )
                mine = await (
                    OutboxMessage.filter(
                        id__in=free, status=OutboxStatus.SENDING, locked_until=until
                    )
                    .using_db(conn)
                    .only("id")
                )
                taken.extend(row.id for row in mine)
        return taken

    taken = set(await in_transaction_retried(work))
    return [i for i in message_ids if i in taken]


async def _load(message_ids: Sequence[UUID]) -> list[OutboxMessage]:
    """The rows of these ids, in their order (one delivery batch's: a claim of thousands
    keeps ids, not rows, so the collector never walks them while the e-mails are built)."""
    rows: dict[UUID, OutboxMessage] = {}
    for part in _slices(message_ids, CLAIM_SLICE):
        rows.update((m.id, m) for m in await OutboxMessage.filter(id__in=list(part)))
    return [rows[i] for i in message_ids if i in rows]


async def _claim(message_ids: Sequence[UUID]) -> list[OutboxMessage]:
    """The rows `_claim_ids` took."""
    return await _load(await _claim_ids(message_ids))


async def _renew(message_ids: Sequence[UUID]) -> None:
    """Extend the lease of the rows this batch still holds, so no one takes them meanwhile."""
    until = datetime.now(UTC) + timedelta(seconds=CLAIM_SECONDS)
    for part in _slices(message_ids, CLAIM_SLICE):
        await OutboxMessage.filter(id__in=list(part), status=OutboxStatus.SENDING).update(
            locked_until=until
        )


class SentMarks:
    """Redis marks of e-mails the SMTP server accepted before their batch committed.

    A worker killed between a send and its batch's commit leaves the rows SENDING; the next
    claimer sees the mark and records them sent instead of sending them again. Ids only.
    """

    def __init__(self, redis: Any | None) -> None:
        self.redis = redis

    @staticmethod
    def key(message_id: UUID) -> str:
        return f"outbox:accepted:{message_id}"

    def writer(self) -> MarkWriter:
        """Marks for one batch's sends, written behind them (see MarkWriter)."""
        return MarkWriter(self)

    async def write(self, message_ids: list[UUID]) -> None:
        if self.redis is None or not message_ids:
            return
        try:
            pipe = self.redis.pipeline(transaction=False)
            for message_id in message_ids:
                pipe.set(self.key(message_id), b"1", ex=SENT_MARK_SECONDS)
            await pipe.execute()
        except Exception:  # noqa: BLE001 - a mark only saves a repeat; delivery goes on
            log.warning("outbox: could not mark %d accepted e-mails", len(message_ids))

    async def marked(self, message_ids: list[UUID]) -> set[UUID]:
        if self.redis is None or not message_ids:
            return set()
        try:
            values = await self.redis.mget([self.key(i) for i in message_ids])
        except Exception:  # noqa: BLE001 - without marks it is at-least-once, as before
            return set()
        return {i for i, value in zip(message_ids, values, strict=True) if value}


class MarkWriter:
    """Writes the marks of sent e-mails while the next ones are sent: what was marked since
    the last write goes out as one pipeline as soon as the send loop yields, instead of a
    Redis round trip (and a socket write) per e-mail. A worker killed mid-batch leaves at most
    the e-mails of the last moment unmarked, as the mark after each send did."""

    def __init__(self, marks: SentMarks) -> None:
        self.marks = marks
        self.pending: list[UUID] = []
        self.task: asyncio.Future[None] | None = None

    def add(self, message_id: UUID) -> bool:
        """Mark it soon; whether there is a mark to write (the caller then yields to it)."""
        if self.marks.redis is None:
            return False
        self.pending.append(message_id)
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._drain())
        return True

    async def _drain(self) -> None:
        while self.pending:
            ids, self.pending = self.pending, []
            await self.marks.write(ids)

    async def close(self) -> None:
        """Every mark written (before the batch commits)."""
        while self.task is not None and not self.task.done():
            await self.task
        await self._drain()


async def _render(services: Services, messages: Sequence[OutboxMessage]) -> list[RenderedBatch]:
    by_kind: dict[str, list[tuple[UUID, dict[str, str]]]] = {}
    for message in messages:
        by_kind.setdefault(message.kind, []).append((message.id, message.payload))
    batches = []
    for kind, items in by_kind.items():
        many = BATCH_RENDERERS.get(kind)
        one = RENDERERS.get(kind)
        if many is not None:
            batches.append(await many(services, items))
        elif one is not None:
            batches.append(await one_by_one(services, one, items))
        else:
            batches.append(
                RenderedBatch({}, {i: f"no renderer for {kind}" for i, _ in items}, _none, _none)
            )
    return batches


async def _none(_uow: UnitOfWork, _ids: list[UUID]) -> None:
    return None


async def _send_all(
    transport: MailTransport, marks: SentMarks, mails: list[tuple[UUID, Mail]]
) -> tuple[list[UUID], dict[UUID, str]]:
    """Send over one connection; after a failed send the next message opens a new one.

    A connection that cannot even be opened fails the rest of the batch at once (each is
    retried with backoff): the server is away, and waiting on it per message helps no one.
    """
    if isinstance(transport, BatchTransport):
        return await _send_batch(transport, marks, mails)
    sent: list[UUID] = []
    failed: dict[UUID, str] = {}
    queue = list(mails)
    writer = marks.writer()
    try:
        await _send_queue(transport, writer, queue, sent, failed)
    finally:
        await writer.close()
    return sent, failed


async def _send_batch(
    transport: BatchTransport, marks: SentMarks, mails: list[tuple[UUID, Mail]]
) -> tuple[list[UUID], dict[UUID, str]]:
    """The whole batch handed over at once; each message answers for itself."""
    try:
        errors = await transport.send_many([mail for _, mail in mails])
    except Exception as error:  # noqa: BLE001 - retried with backoff, as a failed send is
        errors = [type(error).__name__] * len(mails)
    sent = [i for (i, _), error in zip(mails, errors, strict=True) if error is None]
    await marks.write(sent)
    failed = {i: e for (i, _), e in zip(mails, errors, strict=True) if e is not None}
    return sent, failed


async def _send_queue(
    transport: MailTransport,
    writer: MarkWriter,
    queue: list[tuple[UUID, Mail]],
    sent: list[UUID],
    failed: dict[UUID, str],
) -> None:
    while queue:
        try:
            async with transport.session() as session:
                while queue:
                    message_id, mail = queue[0]
                    try:
                        await session.send(mail)
                    except Exception as error:  # noqa: BLE001 - retried with backoff
                        failed[message_id] = type(error).__name__
                        queue.pop(0)
                        break  # re-open: the connection may be what failed
                    queue.pop(0)
                    sent.append(message_id)
                    if writer.add(message_id):
                        # a transport that never waits (files) still lets the mark go out now
                        await asyncio.sleep(0)
        except Exception as error:  # noqa: BLE001 - connecting (or closing) failed
            if queue:
                for message_id, _ in queue:
                    failed[message_id] = type(error).__name__
                queue.clear()


async def _deliver_claimed(
    services: Services, transport: MailTransport, marks: SentMarks, messages: list[OutboxMessage]
) -> Counter[str]:
    """One batch already claimed: render, send over one connection, settle in one transaction.

    What a dead worker had sent (its Redis mark) is recorded sent and not rendered again: a
    second render would issue a new link and revoke the one in the e-mail.
    """
    if transport.replaces_repeats:
        marks = SentMarks(None)  # a second send of a message only replaces the first
    already = await marks.marked([m.id for m in messages])
    rendered = await _render(services, [m for m in messages if m.id not in already])
    by_id = {m.id: m for m in messages}
    mails = [
        (i, Mail(r.to, r.subject, r.text, str(i), created_at=by_id[i].created_at))
        for batch in rendered
        for i, r in batch.mails.items()
    ]
    sent, failed = await _send_all(transport, marks, mails)
    done = _Delivered(
        by_id=by_id,
        rendered=rendered,
        sent=[m.id for m in messages if m.id in already] + sent,
        failed=failed,
        max_attempts=services.settings.outbox_max_attempts,
        sent_before=[m for m in messages if m.id in already],
    )
    # Sent is sent: a lock met here must not leave the rows to be delivered twice.
    await in_unit_of_work(services, done.settle)
    for message_id, error in failed.items():
        log.warning("outbox %s attempt %d failed: %s", message_id, done.attempt(message_id), error)
    return done.outcome()


@dataclass
class _Delivered:
    """What sending one claimed batch came to, and the transaction that records it."""

    by_id: dict[UUID, OutboxMessage]
    rendered: list[RenderedBatch]
    sent: list[UUID]
    failed: dict[UUID, str]  # message id -> the error, for a retry or the last attempt
    max_attempts: int
    sent_before: list[OutboxMessage]  # accepted before a worker died: marked, not rendered

    def attempt(self, message_id: UUID) -> int:
        return self.by_id[message_id].attempts + 1

    @property
    def gave_up(self) -> list[UUID]:
        return [i for i in self.failed if self.attempt(i) >= self.max_attempts]

    def settled(self) -> Settled:
        """Each import's sent, failed and cancelled invitations in this batch."""
        settled = Settled.empty()
        for message_id in self.sent:
            _count(settled.sent, self.by_id[message_id])
        for message_id in self.gave_up:
            _count(settled.failed, self.by_id[message_id])
        for batch in self.rendered:
            for message_id in batch.cancelled:
                _count(settled.cancelled, self.by_id[message_id])
        return settled

    async def settle(self, uow: UnitOfWork) -> None:
        now = datetime.now(UTC)
        conn = uow.conn
        if self.sent:
            await (
                OutboxMessage.filter(id__in=self.sent)
                .using_db(conn)
                .update(status=OutboxStatus.SENT, sent_at=now, locked_until=None)
            )
        gave_up = set(self.gave_up)
        sent = set(self.sent)
        for batch in self.rendered:
            for message_id, reason in batch.cancelled.items():
                await (
                    OutboxMessage.filter(id=message_id)
                    .using_db(conn)
                    .update(
                        status=OutboxStatus.CANCELLED, last_error=reason[:200], locked_until=None
                    )
                )
            await batch.after_send(uow, [i for i in batch.mails if i in sent])
            await batch.after_give_up(uow, [i for i in batch.mails if i in gave_up])
        await _sent_before(uow, self.sent_before)
        for message_id, error in self.failed.items():
            await self._retry_or_fail(conn, message_id, error, now)
        for import_id in await record_settled(conn, self.settled()):
            job = await ClientImport.filter(id=import_id).using_db(conn).get()
            uow.publish(import_channel(import_id), ImportProgress.of(job))

    async def _retry_or_fail(
        self, conn: BaseDBAsyncClient, message_id: UUID, error: str, now: datetime
    ) -> None:
        attempts = self.attempt(message_id)
        await (
            OutboxMessage.filter(id=message_id)
            .using_db(conn)
            .update(
                status=OutboxStatus.FAILED
                if attempts >= self.max_attempts
                else OutboxStatus.PENDING,
                attempts=attempts,
                available_at=now + backoff(attempts),
                last_error=error,
                locked_until=None,
            )
        )

    def outcome(self) -> Counter[str]:
        gave_up = len(self.gave_up)
        outcome: Counter[str] = Counter(sent=len(self.sent), retry=len(self.failed) - gave_up)
        outcome["failed"] = gave_up
        outcome["cancelled"] = sum(len(b.cancelled) for b in self.rendered)
        return outcome


async def _sent_before(uow: UnitOfWork, messages: list[OutboxMessage]) -> None:
    """The after-send effects of e-mails a dead worker had sent, by kind."""
    by_kind: dict[str, list[dict[str, str]]] = {}
    for message in messages:
        by_kind.setdefault(message.kind, []).append(message.payload)
    for kind, payloads in by_kind.items():
        effect = SENT_BEFORE.get(kind)
        if effect is not None:
            await effect(uow, payloads)


def _count(counter: Counter[str], message: OutboxMessage) -> None:
    if message.import_id is not None:
        counter[str(message.import_id)] += 1


async def deliver_many(
    services: Services,
    transport: MailTransport,
    message_ids: Sequence[UUID],
    marks: SentMarks | None = None,
) -> Counter[str]:
    """Claim every row at once (a live batch's rows are never the sweeper's), then deliver
    them DELIVERY_BATCH at a time, renewing the lease of the rest as it goes."""
    marks = marks or SentMarks(None)
    taken = await _claim_ids(message_ids)
    outcome: Counter[str] = Counter(skipped=len(message_ids) - len(taken))
    renewed = time.monotonic()
    for start in range(0, len(taken), DELIVERY_BATCH):
        messages = await _load(taken[start : start + DELIVERY_BATCH])
        outcome.update(await _deliver_claimed(services, transport, marks, messages))
        rest = taken[start + DELIVERY_BATCH :]
        if rest and time.monotonic() - renewed > CLAIM_SECONDS / 3:
            await _renew(rest)
            renewed = time.monotonic()
    return outcome


async def deliver(
    services: Services, transport: MailTransport, message_id: UUID, marks: SentMarks | None = None
) -> str:
    """One message: "sent", "retry" (failed, or gave up: "retry" as before), "cancelled" or
    "skipped" (another worker holds it, or it is done)."""
    outcome = await deliver_many(services, transport, [message_id], marks)
    for name in ("sent", "cancelled", "skipped"):
        if outcome[name]:
            return name
    return "retry"


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
        .values("id", "attempts", "locked_until", "import_id")
    )
    queued = 0
    batches: dict[str, list[dict[str, Any]]] = {}
    for row in due:
        if row["import_id"] is not None:  # an import's rows go back as a batch
            batches.setdefault(str(row["import_id"]), []).append(row)
            continue
        # A new id per attempt and per stale claim, so arq's kept results never block a retry.
        job_id = outbox_sweep_job_id(row["id"], row["attempts"], row["locked_until"])
        if await services.queue.enqueue(Job.DELIVER_OUTBOX, str(row["id"]), job_id=job_id):
            queued += 1
    for rows in batches.values():
        first = rows[0]
        job_id = outbox_batch_sweep_job_id(first["id"], first["attempts"], first["locked_until"])
        ids = [str(row["id"]) for row in rows]
        if await services.queue.enqueue(Job.DELIVER_OUTBOX_BATCH, ids, job_id=job_id):
            queued += len(ids)
    return queued


async def deliver_outbox(ctx: dict[str, Any], message_id: str) -> str:
    return await deliver(
        ctx["services"], ctx["transport"], UUID(message_id), SentMarks(ctx.get("redis"))
    )


@skips_outages
async def sweep_outbox(ctx: dict[str, Any]) -> int:
    return await sweep(ctx["services"])


async def deliver_outbox_batch(ctx: dict[str, Any], message_ids: list[str]) -> int:
    """Deliver a batch (an import batch's invitations, or what the sweeper re-queued)."""
    outcome = await deliver_many(
        ctx["services"],
        ctx["transport"],
        [UUID(i) for i in message_ids],
        SentMarks(ctx.get("redis")),
    )
    return outcome["sent"]
