"""The outbox: nothing lost when Redis or the SMTP server is away, nothing sent twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from aiosmtpd.controller import Controller

from caseload.embedded_redis import EmbeddedRedis, free_port
from caseload.mail import make_transport
from caseload.redis import connect, make_services
from caseload.settings import EmailBackend
from models import OutboxMessage, OutboxStatus
from tests.support import Api, mail_files, record_outcome, run_worker, sign_up_provider
from workers.outbox import _claim, deliver, sweep


async def _backdate() -> None:
    past = datetime.now(UTC) - timedelta(minutes=5)
    await OutboxMessage.all().update(available_at=past)


async def test_redis_down_at_commit_delays_but_never_loses_mail(
    api: Api, redis_server: EmbeddedRedis
) -> None:
    redis_server.stop()
    try:
        token, _ = await sign_up_provider(api, email="offline@example.com", verified=False)
        assert token
    finally:
        redis_server.restart()
    assert await OutboxMessage.filter(status=OutboxStatus.PENDING).count() == 1
    await run_worker(api.settings)
    assert mail_files(api.settings) == []  # nothing was queued while Redis was away

    redis = await connect(api.settings.redis_url or "")
    services = make_services(api.settings, redis)
    try:
        assert await sweep(services) == 0  # too fresh: the after-commit enqueue may still come
        await _backdate()
        assert await sweep(services) == 1
        assert await sweep(services) == 1  # a second sweep before delivery queues nothing new
        await run_worker(api.settings)
        assert await sweep(services) == 0
        await run_worker(api.settings)
    finally:
        await redis.aclose()
    files = mail_files(api.settings)
    assert len(files) == 1
    assert await OutboxMessage.filter(status=OutboxStatus.SENT).count() == 1
    record_outcome(
        "Redis down at commit (sign-up)",
        "Redis stopped → signUpProvider still answered, its e-mail waited PENDING in the outbox; "
        f"after Redis returned the sweeper queued it: {len(files)}/1 delivered, once",
        unit="messages",
        expected=1,
        found=min(len(files), 1),
        duplicates=max(len(files) - 1, 0),
    )


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: ARG002
        self.messages.append(envelope.content)
        return "250 OK"


async def test_smtp_down_retries_with_backoff_then_delivers_once(api: Api) -> None:
    port = free_port()
    settings = api.settings.model_copy(
        update={"email_backend": EmailBackend.SMTP, "smtp_port": port, "smtp_host": "127.0.0.1"}
    )
    await sign_up_provider(api, email="smtp@example.com", verified=False)
    message = await OutboxMessage.get(kind="email.confirm_account")
    redis = await connect(settings.redis_url or "")
    services = make_services(settings, redis)
    transport = make_transport(settings)
    try:
        assert await deliver(services, transport, message.id) == "retry"
        await message.refresh_from_db()
        assert message.status is OutboxStatus.PENDING and message.attempts == 1
        assert message.available_at > datetime.now(UTC)
        first_wait = message.available_at - datetime.now(UTC)
        assert message.last_error and "example.com" not in message.last_error
        assert await deliver(services, transport, message.id) == "retry"
        await message.refresh_from_db()
        second_wait = message.available_at
        assert message.attempts == 2
        assert second_wait - datetime.now(UTC) > timedelta(seconds=2)  # backoff grows
        waits = [first_wait, second_wait - datetime.now(UTC)]

        inbox = _Inbox()
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            await _backdate()
            assert await sweep(services) == 1
            await run_worker(settings)
            await run_worker(settings)
            assert await sweep(services) == 0
        finally:
            controller.stop()
    finally:
        await redis.aclose()
    assert len(inbox.messages) == 1
    assert b"smtp@example.com" in inbox.messages[0]
    await message.refresh_from_db()
    assert message.status is OutboxStatus.SENT
    record_outcome(
        "SMTP server down",
        "SMTP refused 2 attempts → retried after "
        + " then ".join(f"{wait.total_seconds():.0f} s" for wait in waits)
        + f" (backoff); once the server was up: {len(inbox.messages)}/1 delivered, once",
        unit="messages",
        expected=1,
        found=min(len(inbox.messages), 1),
        duplicates=max(len(inbox.messages) - 1, 0),
    )


async def test_a_claimed_message_is_not_sent_twice(api: Api) -> None:
    await sign_up_provider(api, verified=False)
    message = await OutboxMessage.get(kind="email.confirm_account")
    redis = await connect(api.settings.redis_url or "")
    services = make_services(api.settings, redis)
    transport = make_transport(api.settings)
    try:
        results = [await deliver(services, transport, message.id) for _ in range(3)]
    finally:
        await redis.aclose()
    assert results == ["sent", "skipped", "skipped"]
    assert len(mail_files(api.settings)) == 1


@pytest.mark.usefixtures("api")  # an empty database and Redis
async def test_workers_claiming_the_same_rows_at_once_never_share_one() -> None:
    """Two deliveries of one batch at the same moment (a job and the sweeper's, or two
    workers): each row goes to exactly one claim. On PostgreSQL the claim once read the rows
    without its FOR UPDATE and both workers took them."""
    now = datetime.now(UTC)
    for _ in range(5):
        rows = [
            OutboxMessage(id=uuid4(), kind="email.confirm_account", payload={}, available_at=now)
            for _ in range(200)
        ]
        await OutboxMessage.bulk_create(rows)
        ids = [row.id for row in rows]
        first, second, third = await asyncio.gather(_claim(ids), _claim(ids), _claim(ids))
        claims = [{m.id for m in taken} for taken in (first, second, third)]
        assert sum(len(c) for c in claims) == len(ids), [len(c) for c in claims]
        assert set().union(*claims) == set(ids)
        await OutboxMessage.filter(id__in=ids).delete()
