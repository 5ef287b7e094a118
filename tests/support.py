"""Test helpers: a GraphQL client over real HTTP, factories, an in-process burst worker."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis
import websockets
from aiosmtpd.controller import Controller

from caseload.embedded_redis import free_port
from caseload.mail import make_transport, read_mail_dir
from caseload.redis import connect, make_services
from caseload.settings import EmailBackend, Settings
from models import OutboxMessage
from workers.outbox import deliver
from workers.settings import build_worker

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "fixtures" / "imports"
PASSWORD = "correct-horse-battery"


@dataclass
class Api:
    url: str
    settings: Settings
    http: httpx.AsyncClient
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://")

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return await self.http.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
        )

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """The data of a query that must not produce top-level errors."""
        response = await self.post(query, variables, token)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]


AUTH_FIELDS = """
__typename
... on AuthSuccess { token expiresAt viewer { id email role } }
... on MutationError { code message }
... on InputError { fields { field message } }
"""


async def sign_up_provider(
    api: Api, *, email: str | None = None, name: str = "Dr Who", verified: bool = True
) -> tuple[str, dict[str, Any]]:
    """A provider over HTTP; `verified` also confirms their e-mail, which adding clients needs."""
    email = email or f"provider-{uuid.uuid4().hex[:8]}@example.com"
    data = await api.gql(
        f"mutation($i: SignUpProviderInput!) {{ signUpProvider(input: $i) {{ {AUTH_FIELDS} }} }}",
        {"i": {"email": email, "password": PASSWORD, "displayName": name}},
    )
    result = data["signUpProvider"]
    assert result["__typename"] == "AuthSuccess", result
    if verified:
        await confirm_own_email(api, result["viewer"]["id"])
    return result["token"], result["viewer"]


VERIFY_EMAIL = f"mutation($i: VerifyEmailInput!) {{ verifyEmail(input: $i) {{ {AUTH_FIELDS} }} }}"


async def confirm_own_email(api: Api, user_id: str, password: str = PASSWORD) -> None:
    """Confirm an account's own e-mail as its owner would: the sign-up confirmation is
    delivered (the real renderer and mail transport, this one message only, so no other queued
    job runs early), and its link is followed over HTTP. The session that verifyEmail opens is
    logged out again, so the account keeps exactly the sessions a test made."""
    message = (
        await OutboxMessage.filter(kind="email.confirm_account", subject_id=user_id)
        .order_by("-created_at")
        .first()
    )
    assert message is not None, "no confirmation e-mail was queued"
    redis = await connect(api.settings.redis_url or "")
    try:
        services = make_services(api.settings, redis)
        outcome = await deliver(services, make_transport(api.settings), message.id)
    finally:
        await redis.aclose()
    assert outcome == "sent", outcome
    [path] = [p for p in mail_files(api.settings) if f"-{message.id}-" in p.name]
    await follow_confirmation(api, read_mail(path), password)


async def follow_confirmation(api: Api, mail: EmailMessage, password: str = PASSWORD) -> None:
    """Open the link of a confirmation e-mail (verifyEmail), then end the session it opened."""
    verified = await api.gql(
        VERIFY_EMAIL, {"i": {"token": link_token_of(mail), "password": password}}
    )
    result = verified["verifyEmail"]
    assert result["__typename"] == "AuthSuccess", result
    assert (await api.gql("mutation { logOut }", token=result["token"]))["logOut"] is True


async def sign_up_client(api: Api, *, email: str | None = None) -> tuple[str, dict[str, Any]]:
    email = email or f"client-{uuid.uuid4().hex[:8]}@example.com"
    data = await api.gql(
        f"mutation($i: SignUpClientInput!) {{ signUpClient(input: $i) {{ {AUTH_FIELDS} }} }}",
        {"i": {"email": email, "password": PASSWORD, "firstName": "Cleo", "lastName": "Client"}},
    )
    result = data["signUpClient"]
    assert result["__typename"] == "AuthSuccess", result
    return result["token"], result["viewer"]


CLIENT_FIELDS = """
id legalFirstName legalLastName preferredName displayName email emailVerified mobilePhone
dateOfBirth insurance { carrier memberId dateOfBirth } billingMethod { brand last4 }
onboarding { emailVerified insuranceAdded billingAdded formsAcknowledged missingSteps complete invitedAt }
archived archivedAt addedAt addedVia viewerCanEdit editLockedReason
"""

ADD_CLIENT = f"""
mutation($i: AddClientInput!) {{ addClient(input: $i) {{
  __typename
  ... on AddClientSuccess {{ alreadyInList linkedExistingAccount client {{ {CLIENT_FIELDS} }} }}
  ... on MutationError {{ code message }}
  ... on InputError {{ fields {{ field message }} }}
}} }}
"""


async def add_client(api: Api, token: str, **fields: Any) -> dict[str, Any]:
    payload = {
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": f"c-{uuid.uuid4().hex[:8]}@example.org",
    }
    payload.update(fields)
    data = await api.gql(ADD_CLIENT, {"i": payload}, token)
    return data["addClient"]


async def run_worker(settings: Settings) -> None:
    """A real arq worker in burst mode, in this process: runs what is queued, then returns."""
    worker = build_worker(
        settings,
        settings.redis_url or "",
        own_database=False,
        burst=True,
        handle_signals=False,
        poll_delay=0.05,
        cron_jobs=[],
    )
    try:
        await worker.main()
    finally:
        await worker.close()


@asynccontextmanager
async def worker_running(settings: Settings) -> AsyncIterator[None]:
    """A real arq worker polling in this process (it writes arq's health-check key) until exit."""
    worker = build_worker(
        settings,
        settings.redis_url or "",
        own_database=False,
        handle_signals=False,
        poll_delay=0.05,
        cron_jobs=[],
    )
    task = asyncio.create_task(worker.main())
    redis = aioredis.from_url(settings.redis_url or "")
    try:
        while not await redis.exists(worker.health_check_key):
            assert not task.done(), task
            await asyncio.sleep(0.02)
        yield
    finally:
        await redis.aclose()
        # Let a job that is finishing (say, a delivery batch committing) end on its own:
        # cancelling it mid-way makes arq's close() raise CancelledError.
        deadline = asyncio.get_running_loop().time() + 5
        while any(not job.done() for job in worker.tasks.values()):
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.02)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await worker.close()


def mail_files(settings: Settings) -> list[Path]:
    return read_mail_dir(settings.mail_dir)


def read_mail(path: Path) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    return message


def link_token_of(message: EmailMessage) -> str:
    match = re.search(r"[?&]token=([A-Za-z0-9_\-]+)", message.get_content())
    assert match, "no link in the e-mail"
    return match.group(1)


VERIFY_EMAIL = f"mutation($i: VerifyEmailInput!) {{ verifyEmail(input: $i) {{ {AUTH_FIELDS} }} }}"


async def accept_invitation(api: Api, email: str, *, password: str = PASSWORD) -> str:
    """The person at `email` opens every invitation sent there and accepts it: their token.

    A new address chooses `password`; an address with an account enters its password.
    """
    await run_worker(api.settings)
    sent = [read_mail(p) for p in mail_files(api.settings)]
    invitations = [m for m in sent if m["To"] == email and "invited" in str(m["Subject"])]
    assert invitations, f"no invitation was sent to {email}"
    token = None
    for message in invitations:
        variables = {"i": {"token": link_token_of(message), "password": password}}
        result = (await api.gql(VERIFY_EMAIL, variables))["verifyEmail"]
        if result["__typename"] == "AuthSuccess":
            token = str(result["token"])
        else:  # a link already followed, or replaced by a newer one
            assert result.get("code") == "INVALID_TOKEN", result
    assert token is not None, f"no invitation to {email} could be accepted"
    return token


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


@contextmanager
def count_queries() -> Iterator[_Counter]:
    """Counts SQL statements Tortoise sends (it logs each one at DEBUG)."""
    logger = logging.getLogger("tortoise.db_client")
    counter = _Counter()
    old_level, old_propagate = logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(counter)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


IMPORT_FIELDS = """
id fileName format status dryRun totalRows processedRows createdCount linkedCount
alreadyInListCount duplicateCount errorCount warningCount ignoredColumns failureReason
columnMapping { field column } createdAt startedAt finishedAt
"""

START_IMPORT = f"""
mutation($i: StartClientImportInput!) {{ startClientImport(input: $i) {{
  __typename
  ... on StartClientImportSuccess {{ clientImport {{ {IMPORT_FIELDS} }} }}
  ... on ImportFileError {{ code message missingColumns foundColumns }}
  ... on MutationError {{ code message }}
}} }}
"""


async def start_import(
    api: Api,
    token: str,
    data: bytes,
    file_name: str = "clients.csv",
    **options: Any,
) -> dict[str, Any]:
    """startClientImport as a real GraphQL multipart upload."""
    variables = {"i": {"file": None, **options}}
    files = {
        "operations": (None, json.dumps({"query": START_IMPORT, "variables": variables})),
        "map": (None, json.dumps({"0": ["variables.i.file"]})),
        "0": (file_name, data, "application/octet-stream"),
    }
    response = await api.http.post(
        f"{api.url}/graphql",
        files=files,
        headers={"authorization": f"Bearer {token}", "apollo-require-preflight": "true"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["startClientImport"]


async def import_status(api: Api, token: str, import_id: str) -> dict[str, Any]:
    query = f"query($id: ID!) {{ clientImport(id: $id) {{ {IMPORT_FIELDS} }} }}"
    return (await api.gql(query, {"id": import_id}, token))["clientImport"]


class Subscription:
    """One graphql-transport-ws subscription on its own socket."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def message(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next protocol message for the operation (next, error or complete)."""
        while True:
            raw = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if raw.get("type") in ("ping", "pong"):
                continue
            return raw

    async def next(self, timeout: float = 5.0) -> dict[str, Any]:
        """The data of the next event; fails on an error or completion."""
        message = await self.message(timeout)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message["payload"]
        return message["payload"]["data"]

    async def rest(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Every remaining event until the server completes the subscription."""
        events: list[dict[str, Any]] = []
        while True:
            message = await self.message(timeout)
            if message["type"] == "complete":
                return events
            assert message["type"] == "next", message
            events.append(message["payload"]["data"])


@asynccontextmanager
async def subscribe(
    api: Api, query: str, variables: dict[str, Any] | None = None, token: str | None = None
) -> AsyncIterator[Subscription]:
    async with websockets.connect(
        f"{api.ws_url}/graphql", subprotocols=["graphql-transport-ws"]
    ) as ws:
        payload = {"authorization": f"Bearer {token}"} if token else {}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert ack["type"] == "connection_ack", ack
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": query, "variables": variables or {}},
                }
            )
        )
        yield Subscription(ws)


async def live_subscriptions(redis: Any) -> int:
    """Live subscriptions held on every API process (their slots in Redis).

    A subscription takes its slot once it listens on Redis, so a count that went up means
    the stream is live: an event published from then on reaches it.
    """
    total = 0
    async for key in redis.scan_iter(match="live:subscriptions:*"):
        total += await redis.zcard(key)
    return int(total)


@asynccontextmanager
async def subscribe_listening(
    api: Api,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
    *,
    timeout: float = 3.0,
) -> AsyncIterator[Subscription]:
    """`subscribe`, returning once the server listens on Redis pub/sub.

    For streams without a first event (clientUpdated, messageReceived): an event published
    before the server subscribed to its channel would be lost, and the test would be flaky.
    """
    redis = aioredis.from_url(api.settings.redis_url or "")
    try:
        before = await live_subscriptions(redis)
        async with subscribe(api, query, variables, token) as subscription:
            deadline = asyncio.get_running_loop().time() + timeout
            while await live_subscriptions(redis) <= before:
                assert asyncio.get_running_loop().time() < deadline, "server never subscribed"
                await asyncio.sleep(0.01)
            yield subscription
    finally:
        await redis.aclose()


async def socket_close_code(
    api: Api, payload: dict[str, Any] | None, *, timeout: float = 5.0
) -> int | None:
    """Open a socket, send connection_init with `payload` (None: send nothing) and return the
    code the server closes it with; fails if it acknowledges instead."""
    async with websockets.connect(
        f"{api.ws_url}/graphql", subprotocols=["graphql-transport-ws"]
    ) as ws:
        if payload is not None:
            await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        try:
            message = await asyncio.wait_for(ws.recv(), timeout)
        except websockets.exceptions.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        raise AssertionError(f"the socket stayed open: {message!r}")


@asynccontextmanager
async def api_process(api: Api, **settings: Any) -> AsyncIterator[Api]:
    """Another API process (uvicorn in a subprocess) on the same database and Redis.

    `settings` override the test settings in that process only (e.g. session_idle_seconds=2).
    """
    port = free_port()
    own = api.settings.model_copy(
        update={"port": port, "public_url": f"http://127.0.0.1:{port}", **settings}
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASELOAD_")}
    for name, value in own.model_dump(exclude_none=True).items():
        env[f"CASELOAD_{name.upper()}"] = (
            json.dumps(value) if isinstance(value, list | dict) else str(value)
        )
    command = [
        sys.executable, "-m", "uvicorn", "caseload.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--ws", "websockets-sansio",
        "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            assert process.poll() is None, "the API process exited"
            try:
                # ready to serve: no worker runs in these tests, so /readyz itself stays 503
                body = (await api.http.get(f"{url}/readyz")).json()
                if body.get("database") and body.get("redis"):
                    break
            except httpx.TransportError:
                pass
            assert asyncio.get_running_loop().time() < deadline, "API process never ready"
            await asyncio.sleep(0.1)
        yield Api(url=url, settings=own, http=api.http)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def assert_no_event(subscription: Subscription, within: float = 0.5) -> None:
    """Nothing arrives on the subscription for `within` seconds."""
    try:
        message = await subscription.message(within)
    except TimeoutError:
        return
    raise AssertionError(f"unexpected event: {message}")


class SmtpInbox:
    """The handler of a real SMTP server (aiosmtpd): keeps every message it is sent."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


@contextmanager
def smtp_server(settings: Settings) -> Iterator[tuple[Settings, SmtpInbox]]:
    """An SMTP server on a free port, and a copy of `settings` that sends mail to it."""
    inbox = SmtpInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield (
            settings.model_copy(
                update={
                    "email_backend": EmailBackend.SMTP,
                    "smtp_host": "127.0.0.1",
                    "smtp_port": port,
                }
            ),
            inbox,
        )
    finally:
        controller.stop()


RELIABILITY_REPORT = "CASELOAD_RELIABILITY_REPORT"


def record_outcome(
    fault: str, happened: str, *, unit: str, expected: int, found: int, duplicates: int = 0
) -> None:
    """What a fault or attack test measured, for `make reliability` (scripts/reliability.py).

    Appends one JSON line to the file named by CASELOAD_RELIABILITY_REPORT, if it is set;
    a plain `make test` records nothing. `expected`/`found` are rows or messages; `found`
    counts distinct ones, `duplicates` the extra copies. No PHI: counts and words only.
    """
    path = os.environ.get(RELIABILITY_REPORT)
    if not path:
        return
    line = {
        "test": os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0],
        "fault": fault,
        "happened": happened,
        "unit": unit,
        "expected": expected,
        "found": found,
        "duplicates": duplicates,
        "lost": max(expected - found, 0),
    }
    with open(path, "a", encoding="utf-8") as report:
        report.write(json.dumps(line) + "\n")
