"""Concurrent writers queue instead of failing: providers add clients while a worker sends mail."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from uuid import UUID

import pytest
from tortoise import Tortoise
from tortoise.exceptions import OperationalError

from caseload.redis import connect, make_services
from caseload.settings import Settings
from models import FormDocument, OutboxMessage, OutboxStatus, ProviderClient
from resolvers.ports import Services
from resolvers.unit_of_work import UnitOfWork, in_unit_of_work
from tests.support import (
    AUTH_FIELDS,
    REPO,
    Api,
    link_token_of,
    mail_files,
    read_mail,
    record_outcome,
    sign_up_provider,
    write_lock_held_elsewhere,
)

pytestmark = pytest.mark.slow


PROVIDERS = 4
CLIENTS_EACH = 15
VERIFY = f"mutation($i: VerifyEmailInput!) {{ verifyEmail(input: $i) {{ {AUTH_FIELDS} }} }}"


@contextmanager
def worker_process(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    """A real `caseload worker` in its own process, on the test database and Redis."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASELOAD_")}
    env.update(
        {
            "CASELOAD_DATABASE_URL": settings.resolved_database_url(),
            "CASELOAD_REDIS_URL": settings.redis_url or "",
            "CASELOAD_DATA_DIR": str(settings.data_dir),
            "CASELOAD_PUBLIC_URL": settings.public_url,
            "CASELOAD_SECRET_KEY": settings.secret_key,
        }
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "caseload.cli", "worker"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _mail_to(settings: Settings, address: str, timeout: float = 20.0) -> EmailMessage:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in mail_files(settings):
            message = read_mail(path)
            if message["To"] == address:
                return message
        await asyncio.sleep(0.1)
    raise AssertionError("no e-mail arrived for the provider")


async def _confirmed_provider(api: Api, number: int) -> str:
    """A provider who confirmed their address through the real e-mail link."""
    email = f"writer-{number}@example.com"
    token, _viewer = await sign_up_provider(api, email=email, verified=False)
    link = link_token_of(await _mail_to(api.settings, email))
    verified = (await api.gql(VERIFY, {"i": {"token": link}}))["verifyEmail"]
    assert verified["__typename"] == "AuthSuccess", verified
    return token


async def _add_one_by_one(api: Api, token: str, number: int) -> list[str]:
    """Each outcome's __typename (or the masked error), in order."""
    outcomes: list[str] = []
    for index in range(CLIENTS_EACH):
        response = await api.post(
            "mutation($i: AddClientInput!) { addClient(input: $i) { __typename } }",
            {"i": {"firstName": "Ada", "lastName": "L", "email": f"p{number}-c{index}@x.org"}},
            token,
        )
        body = response.json()
        if response.status_code != 200 or "errors" in body:
            outcomes.append(f"error {response.status_code}: {body.get('errors')}")
        else:
            outcomes.append(body["data"]["addClient"]["__typename"])
    return outcomes


async def test_concurrent_providers_add_clients_while_a_worker_sends_mail(api: Api) -> None:
    with worker_process(api.settings) as worker:
        tokens = await asyncio.gather(*(_confirmed_provider(api, n) for n in range(PROVIDERS)))
        results = await asyncio.gather(
            *(_add_one_by_one(api, token, n) for n, token in enumerate(tokens))
        )
        expected = PROVIDERS * CLIENTS_EACH
        # the worker kept writing meanwhile: every invitation is delivered
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if await OutboxMessage.filter(status=OutboxStatus.SENT).count() >= expected + PROVIDERS:
                break
            await asyncio.sleep(0.2)
        assert worker.poll() is None, "the worker died"
    outcomes = [outcome for result in results for outcome in result]
    failed = [o for o in outcomes if o != "AddClientSuccess"]
    saved = await ProviderClient.all().count()
    record_outcome(
        f"{PROVIDERS} providers add clients one by one while a worker process sends mail",
        f"{len(failed)} failed writes",
        unit="clients",
        expected=expected,
        found=saved,
    )
    assert failed == []
    assert saved == expected
    assert await OutboxMessage.filter(status=OutboxStatus.SENT).count() == expected + PROVIDERS


async def _sqlite_lock_is_retried(api: Api, services: Services) -> tuple[UUID, list[int]]:
    """A real lock held past the busy timeout: one attempt fails, a retried one commits."""
    runs: list[int] = []

    async def work(uow: UnitOfWork) -> UUID:
        runs.append(1)
        message = await uow.add_outbox("email.confirm_account", {"user_id": None})
        return message.id

    async with write_lock_held_elsewhere(api, 0.3):
        with pytest.raises(OperationalError, match="locked"):
            await in_unit_of_work(services, work, attempts=1)
    assert await OutboxMessage.all().count() == 0
    started = time.monotonic()
    async with write_lock_held_elsewhere(api, 0.45):
        written = await in_unit_of_work(services, work, attempts=5)
    assert time.monotonic() - started >= 0.4  # it waited for the lock, then got it
    return written, runs


async def _postgres_serialization_failure_is_retried(
    api: Api, services: Services
) -> tuple[UUID, list[int]]:
    """A real 40001: another connection changes the row this REPEATABLE READ attempt read."""
    import asyncpg  # PostgreSQL runs only

    form = await FormDocument.first()
    assert form is not None
    other = await asyncpg.connect(api.settings.resolved_database_url())
    runs: list[int] = []

    async def work(uow: UnitOfWork) -> UUID:
        runs.append(1)
        await uow.conn.execute_script("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        await FormDocument.filter(id=form.id).using_db(uow.conn).values_list("title", flat=True)
        if len(runs) == 1:  # a concurrent writer commits after our snapshot was taken
            await other.execute("UPDATE form_documents SET title = title WHERE id = $1", form.id)
        await FormDocument.filter(id=form.id).using_db(uow.conn).update(title=form.title)
        message = await uow.add_outbox("email.confirm_account", {"user_id": None})
        return message.id

    try:
        written = await in_unit_of_work(services, work)
    finally:
        await other.close()
    return written, runs


async def test_a_unit_of_work_retries_a_transient_failure(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite: another connection holds the write lock; PostgreSQL: a serialization failure."""
    redis = await connect(api.settings.redis_url or "")
    try:
        services = make_services(api.settings, redis)
        if Tortoise.get_connection("default").capabilities.dialect == "sqlite":
            written, runs = await _sqlite_lock_is_retried(api, services)
            assert runs == [1]  # the body ran only on the attempt that got the lock
        else:
            written, runs = await _postgres_serialization_failure_is_retried(api, services)
            assert runs == [1, 1]  # the first attempt failed in its body and ran again
        queued = await redis.exists(f"arq:job:outbox:{written}:0")
    finally:
        await redis.aclose()
    retried = [r for r in caplog.records if "transient database failure" in r.getMessage()]
    assert retried  # met the failure at least once and tried again
    # one outbox row: the failed attempt's row was rolled back, and only the committed
    # attempt's row was dispatched
    assert [m.id for m in await OutboxMessage.all()] == [written]
    assert queued == 1
