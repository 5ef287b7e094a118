"""Invitation campaigns over real HTTP/WebSocket, a real worker and a real SMTP server (aiosmtpd):
progress for the rows and then the e-mails, each record's status, refusals, and a killed worker."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import asyncpg
import pytest
from aiosmtpd.controller import Controller
from tortoise import Tortoise

from caseload.embedded_redis import free_port
from caseload.mail import Mail, make_transport
from caseload.redis import connect, make_services
from caseload.security import token_digest
from caseload.settings import EmailBackend, Settings
from models import (
    ClientImport,
    OutboxMessage,
    OutboxStatus,
    ProviderClient,
    VerificationPurpose,
    VerificationToken,
)
from resolvers.imports.runner import run_import
from tests.support import (
    Api,
    link_token_of,
    mail_files,
    many,
    read_mail,
    record_outcome,
    run_worker,
    sign_up_provider,
    start_import,
    subscribe,
    worker_running,
)
from workers.outbox import deliver_many, sweep

PROGRESS = """subscription($id: ID!) { clientImportProgress(id: $id) {
  status processedRows createdCount
  invitations { requested total sent failed pending finishedAt } } }"""


def _invitations() -> Any:
    return OutboxMessage.filter(kind="email.invitation")


STATUSES = "{ clients(first: 100) { edges { node { invitation { status sentAt } } } } }"


class Relay:
    """An SMTP server's handler that can hold messages, refuse them, or take its time."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.gate = threading.Event()
        self.gate.set()
        self.refusing = False
        self.delay = 0.0
        self.refused = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: ARG002
        while not self.gate.is_set():
            await asyncio.sleep(0.01)
        if self.refusing:
            self.refused += 1
            return "550 5.7.1 Refused for this test"
        if self.delay:
            await asyncio.sleep(self.delay)
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def message_ids(self) -> Counter[str]:
        return Counter(str(m["Message-ID"]) for m in self.messages)


@contextmanager
def relay(settings: Settings, **update: Any) -> Iterator[tuple[Settings, Relay]]:
    handler = Relay()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield (
            settings.model_copy(
                update={
                    "email_backend": EmailBackend.SMTP,
                    "smtp_host": "127.0.0.1",
                    "smtp_port": port,
                    **update,
                }
            ),
            handler,
        )
    finally:
        handler.gate.set()
        controller.stop()


async def _statuses(api: Api, token: str) -> Counter[str]:
    data = await api.gql(STATUSES, {}, token)
    return Counter(e["node"]["invitation"]["status"] for e in data["clients"]["edges"])


async def _wait_for(predicate: Any, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not await predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def _retry_now(settings: Settings) -> int:
    """What the sweeper does once a retry's backoff has passed (the clock moved on)."""
    await OutboxMessage.filter(status=OutboxStatus.PENDING).update(
        available_at=datetime.now(UTC) - timedelta(minutes=5)
    )
    redis = await connect(settings.redis_url or "")
    try:
        return await sweep(make_services(settings, redis))
    finally:
        await redis.aclose()


async def test_progress_reports_the_rows_then_the_emails_and_completes_after_the_last(
    api: Api,
) -> None:
    total = 2000
    with relay(api.settings) as (settings, smtp):
        smtp.gate.clear()  # the server holds every message until the rows are seen done
        token, _ = await sign_up_provider(api)
        import_id = (await start_import(api, token, many(total)))["clientImport"]["id"]
        async with subscribe(api, PROGRESS, {"id": import_id}, token) as sub:
            first = (await sub.next())["clientImportProgress"]
            assert first["status"] == "QUEUED"
            assert first["invitations"] == {
                "requested": True,
                "total": 0,
                "sent": 0,
                "failed": 0,
                "pending": 0,
                "finishedAt": None,
            }
            events = []
            async with worker_running(settings):
                while True:
                    event = (await sub.next(30))["clientImportProgress"]
                    events.append(event)
                    if event["status"] == "COMPLETED":
                        break
                # the rows are in; the e-mails are not: each record says so
                assert event["invitations"]["pending"] == total
                assert event["invitations"]["finishedAt"] is None
                assert await _statuses(api, token) == {"PENDING": 100}
                smtp.gate.set()
                events += [e["clientImportProgress"] for e in await sub.rest(60)]

    rows = [e["processedRows"] for e in events]
    assert rows == sorted(rows)
    assert any(0 < r < total for r in rows), f"no movement within the rows: {rows}"
    done_at = next(i for i, e in enumerate(events) if e["status"] == "COMPLETED")
    assert all(e["invitations"]["sent"] == 0 for e in events[: done_at + 1])
    sent = [e["invitations"]["sent"] for e in events[done_at:]]
    assert sent == sorted(sent) and len(set(sent)) > 2, sent  # the e-mails move too
    last = events[-1]["invitations"]
    assert last["total"] == last["sent"] == total
    assert last["pending"] == 0 and last["failed"] == 0 and last["finishedAt"]
    assert len(smtp.messages) == total and len(smtp.message_ids()) == total
    assert await _statuses(api, token) == {"SENT": 100}
    job = await ClientImport.get(id=import_id)
    assert job.invitations_sent == total and job.invitations_finished_at is not None

    query = f'{{ clientImport(id: "{import_id}") {{ invitations {{ total sent pending }} }} }}'
    assert (await api.gql(query, {}, token))["clientImport"]["invitations"] == {
        "total": total,
        "sent": total,
        "pending": 0,
    }
    # a late subscriber gets the finished state and completion at once
    async with subscribe(api, PROGRESS, {"id": import_id}, token) as late:
        assert (await late.next())["clientImportProgress"]["invitations"]["pending"] == 0
        assert await late.rest() == []


async def test_refused_past_the_last_attempt_is_failed_and_the_campaign_ends(api: Api) -> None:
    total = 30
    with relay(api.settings, outbox_max_attempts=2) as (settings, smtp):
        smtp.refusing = True
        token, _ = await sign_up_provider(api)
        import_id = (await start_import(api, token, many(total)))["clientImport"]["id"]
        async with subscribe(api, PROGRESS, {"id": import_id}, token) as sub:
            await sub.next()
            await run_worker(settings)  # the import, and a first attempt that is refused
            job = await ClientImport.get(id=import_id)
            assert job.status.value == "COMPLETED" and job.invitations_failed == 0
            assert await _statuses(api, token) == {"PENDING": total}
            assert await _retry_now(settings) == total
            await run_worker(settings)  # the second and last attempt
            events = [e["clientImportProgress"] for e in await sub.rest()]
    last = events[-1]["invitations"]
    assert last["failed"] == total and last["sent"] == 0 and last["pending"] == 0
    assert last["finishedAt"]
    assert smtp.refused == 2 * total and smtp.messages == []
    assert await _statuses(api, token) == {"FAILED": total}
    assert await OutboxMessage.filter(status=OutboxStatus.FAILED).count() == total


async def test_smtp_refusing_then_recovering_delivers_each_once(api: Api) -> None:
    total = 250  # three delivery batches
    with relay(api.settings) as (settings, smtp):
        smtp.refusing = True
        token, _ = await sign_up_provider(api)
        import_id = (await start_import(api, token, many(total)))["clientImport"]["id"]
        await run_worker(settings)
        assert smtp.refused == total
        smtp.refusing = False
        assert await _retry_now(settings) == total
        await run_worker(settings)
    counts = smtp.message_ids()
    assert len(counts) == total and max(counts.values()) == 1
    job = await ClientImport.get(id=import_id)
    assert (job.invitations_sent, job.invitations_failed, job.invitations_total) == (
        total,
        0,
        total,
    )
    assert job.invitations_finished_at is not None
    assert not await ProviderClient.filter(invitation_sent_at=None).exists()
    record_outcome(
        "SMTP refusing, then recovering",
        f"every one of {total} invitations refused once → retried as batches after the backoff: "
        f"{len(counts)}/{total} delivered, once each",
        unit="messages",
        expected=total,
        found=len(counts),
        duplicates=sum(counts.values()) - len(counts),
    )


async def test_the_sweeper_leaves_a_live_batch_alone(api: Api) -> None:
    with relay(api.settings) as (settings, smtp):
        token, _ = await sign_up_provider(api)
        await start_import(api, token, many(150), sendInvitations=True)
        # the rows only: the import's own delivery job is left in the queue unrun
        redis = await connect(settings.redis_url or "")
        services = make_services(settings, redis)
        try:
            job = await ClientImport.get()
            await run_import(services, job.id, "test-owner")
            invitations = OutboxMessage.filter(kind="email.invitation").order_by("id")
            ids = await invitations.values_list("id", flat=True)
            smtp.gate.clear()
            batch = asyncio.create_task(deliver_many(services, make_transport(settings), ids))
            await _wait_for(lambda: _sending_is(len(ids)))
            # long past the sweeper's grace: still nothing to re-queue while the lease lives
            await OutboxMessage.all().update(available_at=datetime.now(UTC) - timedelta(hours=1))
            assert await sweep(services) == 0
            smtp.gate.set()
            outcome = await batch
        finally:
            await redis.aclose()
    assert outcome["sent"] == 150
    assert len(smtp.message_ids()) == 150


def _all_sent(total: int) -> Any:
    async def check() -> bool:
        return await _invitations().filter(status=OutboxStatus.SENT).count() == total

    return check


async def _sending_is(count: int) -> bool:
    return await OutboxMessage.filter(status=OutboxStatus.SENDING).count() == count


def _worker(settings: Settings) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASELOAD_")}
    env.update(
        {
            "CASELOAD_DATABASE_URL": settings.resolved_database_url(),
            "CASELOAD_REDIS_URL": settings.redis_url or "",
            "CASELOAD_DATA_DIR": str(settings.data_dir),
            "CASELOAD_EMAIL_BACKEND": "smtp",
            "CASELOAD_SMTP_HOST": settings.smtp_host,
            "CASELOAD_SMTP_PORT": str(settings.smtp_port),
        }
    )
    return subprocess.Popen(
        [sys.executable, "-m", "caseload.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_a_worker_killed_mid_batch_loses_and_doubles_nothing(api: Api) -> None:
    total = 300
    with relay(api.settings) as (settings, smtp):
        smtp.delay = 0.01
        token, _ = await sign_up_provider(api)
        import_id = (await start_import(api, token, many(total)))["clientImport"]["id"]
        worker = _worker(settings)
        try:
            deadline = time.monotonic() + 60
            while len(smtp.messages) < 130:  # into the second delivery batch
                assert time.monotonic() < deadline and worker.poll() is None
                await asyncio.sleep(0.005)
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(10)
        finally:
            if worker.poll() is None:
                worker.kill()
        at_kill = len(smtp.messages)
        assert at_kill < total, "every e-mail went before the kill"
        held = await OutboxMessage.filter(status=OutboxStatus.SENDING).count()
        assert held > 0, "no batch was in flight"
        # The dead worker's lease runs out (here: at once), and the sweeper hands its rows on.
        await OutboxMessage.filter(status=OutboxStatus.SENDING).update(
            locked_until=datetime.now(UTC) - timedelta(seconds=1)
        )
        assert await _retry_now(settings) == held
        # a polling worker: a burst one would wait on the dead worker's unfinished arq jobs
        async with worker_running(settings):
            await _wait_for(_all_sent(total), 60)
    counts = smtp.message_ids()
    outbox_ids = {
        f"<{i}@caseload.invalid>" for i in await _invitations().values_list("id", flat=True)
    }
    assert set(counts) == outbox_ids  # nothing lost, nothing made up
    doubled = sum(counts.values()) - len(counts)
    # At most the one message the server took as the worker died; the ones it had accepted
    # before were marked and are recorded sent without a second copy.
    assert doubled <= 1, counts.most_common(3)
    # The link of every e-mail that went out still works: the rows the dead worker had sent
    # are recorded sent without a second render, whose fresh link would revoke the first.
    last_copy = {str(m["Message-ID"]): m for m in smtp.messages}
    live = await _live_invitation_hashes()
    dead = [i for i, m in last_copy.items() if token_digest(link_token_of(m)) not in live]
    assert not dead, f"{len(dead)} delivered links revoked"
    assert await _invitations().filter(status=OutboxStatus.SENT).count() == total
    job = await ClientImport.get(id=import_id)
    assert job.invitations_sent == total and job.invitations_finished_at is not None
    assert not await ProviderClient.filter(invitation_sent_at=None).exists()
    record_outcome(
        "worker SIGKILLed mid delivery batch",
        f"worker SIGKILLed after {at_kill}/{total} e-mails ({held} rows held) → lease expired, "
        f"sweeper re-queued them as a batch: {len(counts)}/{total} delivered, {doubled} repeated",
        unit="messages",
        expected=total,
        found=len(counts),
        duplicates=doubled,
    )


class _Killed(BaseException):
    """What a SIGKILL is to the delivery: nothing after it runs (no settling commit)."""


class _DiesAfter:
    """The file backend, until the worker dies after `sends` e-mails."""

    replaces_repeats = True

    def __init__(self, transport: Any, sends: int) -> None:
        self.transport = transport
        self.left = sends

    async def send(self, mail: Mail) -> None:
        if self.left == 0:
            raise _Killed
        self.left -= 1
        await self.transport.send(mail)

    def session(self) -> Any:
        return self

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    async def close(self) -> None:
        return None


async def _live_invitation_hashes() -> set[str]:
    return {
        t.token_hash
        for t in await VerificationToken.filter(
            purpose=VerificationPurpose.INVITATION, revoked_at=None, used_at=None
        )
    }


async def test_file_backend_a_batch_sent_again_leaves_one_file_each_with_a_live_link(
    api: Api,
) -> None:
    """The file backend needs no marks: a worker that died after writing part of a batch
    leaves its rows held, and the next delivery writes each of those files over its first."""
    total = 150
    token, _ = await sign_up_provider(api)
    import_id = (await start_import(api, token, many(total), sendInvitations=True))["clientImport"][
        "id"
    ]
    redis = await connect(api.settings.redis_url or "")
    services = make_services(api.settings, redis)
    try:
        await run_import(services, (await ClientImport.get()).id, "test-owner")
        ids = await _invitations().order_by("id").values_list("id", flat=True)
        transport = make_transport(api.settings)
        earlier = set(mail_files(api.settings))  # the provider's confirmation
        with pytest.raises(_Killed):  # 30 files of the second batch written, not recorded
            await deliver_many(services, _DiesAfter(transport, 130), ids)
        assert await _sending_is(total - 100)
        files_at_death = len(set(mail_files(api.settings)) - earlier)
        await OutboxMessage.filter(status=OutboxStatus.SENDING).update(
            locked_until=datetime.now(UTC) - timedelta(seconds=1)
        )
        outcome = await deliver_many(services, transport, ids)
    finally:
        await redis.aclose()
    assert files_at_death == 130 and outcome["sent"] == total - 100
    files = sorted(set(mail_files(api.settings)) - earlier)
    messages = [read_mail(path) for path in files]
    outbox_ids = {
        f"<{i}@caseload.invalid>" for i in await _invitations().values_list("id", flat=True)
    }
    assert len(files) == total and {str(m["Message-ID"]) for m in messages} == outbox_ids
    live = await _live_invitation_hashes()
    assert all(token_digest(link_token_of(m)) in live for m in messages)
    job = await ClientImport.get(id=import_id)
    assert job.invitations_sent == total and job.invitations_finished_at is not None
    assert not await ProviderClient.filter(invitation_sent_at=None).exists()
    record_outcome(
        "file backend: worker died mid delivery batch",
        f"died after writing 130/{total} .eml files (30 not recorded) → lease expired, "
        f"delivered again: {len(files)} files for {total} e-mails, every link live",
        unit="messages",
        expected=total,
        found=len(files),
        duplicates=len(files) - len({str(m["Message-ID"]) for m in messages}),
    )


async def test_each_lookup_of_a_delivery_uses_an_index(api: Api) -> None:
    conn = Tortoise.get_connection("default")
    postgres = conn.capabilities.dialect == "postgres"
    lookups = {
        "claim": "SELECT id FROM outbox_messages WHERE id IN ({a}, {b}) AND status = {c}",
        "sweep": "SELECT id FROM outbox_messages WHERE status = {a} AND available_at <= {b}",
        "announce": "SELECT provider_id FROM provider_clients WHERE client_id = {a}",
        "tokens": "UPDATE verification_tokens SET revoked_at = {a} WHERE record_id = {b}",
        "progress": "SELECT invitations_sent FROM client_imports WHERE id = {a}",
    }
    if postgres:
        # its own connection, so the planner setting never leaks into the pool's
        raw = await asyncpg.connect(api.settings.resolved_database_url())
        await raw.execute("SET enable_seqscan = off")
    try:
        for name, sql in lookups.items():
            if postgres:
                # real values: PostgreSQL folds `= NULL` into a constant-false plan
                values = {
                    "a": "'00000000-0000-0000-0000-000000000001'",
                    "b": "'00000000-0000-0000-0000-000000000002'",
                    "c": "'PENDING'",
                }
                if name == "sweep":
                    values = {"a": "'PENDING'", "b": "now()", "c": "NULL"}
                if name == "tokens":
                    values = {"a": "now()", "b": values["a"], "c": "NULL"}
                rows = await raw.fetch(f"EXPLAIN {sql.format(**values)}")
                plan = " ".join(str(r) for r in rows)
                assert "Index" in plan, (name, plan)
            else:
                text = sql.format(**{k: "?" for k in "abc"})
                args = [None] * text.count("?")
                rows = (await conn.execute_query(f"EXPLAIN QUERY PLAN {text}", args))[1]
                plan = " ".join(str(dict(r)) for r in rows)
                assert "USING" in plan and "SCAN outbox" not in plan, (name, plan)

    finally:
        if postgres:
            await raw.close()
