"""`make load`: a bounded load test against a real `caseload serve` it starts itself.

On SQLite by default (the embedded default, as `make run` starts it); on PostgreSQL with
`--database-url URL`, or `--postgres` to start a throwaway one with scripts/postgres.sh.
Loopback only, bounded in time (`--seconds`, 60 by default, then at most `--drain` seconds
for the imports to finish). At once:

- 20 providers (each confirmed through the e-mail link) add clients one by one, and every
  20th step (from the 5th) a batch of 100 with `addClients`;
- 4 of them import a 20,000-row CSV with invitations and follow its progress;
- 20 clients message the providers;
- 100 open subscriptions (`clientUpdated`, `messageReceived`);
- an anonymous caller sends hostile requests: a 490-field `{ me { id } ... }` document, a
  19 MB document that is mostly a comment, 30 concurrent wrong-password log-ins, malformed
  JSON bodies.

The `/healthz` prober, the hostile caller and the subscribers run in processes of their own
(the writers and imports in this one), so one's work does not delay another's clock; each
latency is taken from just before the request is sent to its answer, and CSVs are made before
the clock starts.

It prints per operation: count, errors, p50/p99 latency; `/healthz` p99 (all, and for the
samples whose span overlapped a hostile request's); Redis clients (all, and those the API process holds); the
processes' peak memory. Exit status 0 only when nothing failed and the targets of issue #13
were met (/healthz p99 < 100 ms while hostile requests run, addClient p99 < 250 ms on
SQLite, at most 10 Redis connections held by the API process).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis.asyncio as aioredis
from httpx_ws import aconnect_ws

from bench.datagen import make_csv
from caseload.embedded_redis import free_port

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct-horse-battery"
PROVIDER_ADDRESS = "127.0.0.2"  # sign-ups are limited per address: one each for the roles
CLIENT_ADDRESS = "127.0.0.3"
BATCH = 100
BATCH_EVERY = 20
MESSAGE_EVERY_SECONDS = 3.5  # under the 20 messages a minute a person may send
HOSTILE_PAUSE_SECONDS = 1.0

AUTH = """__typename ... on AuthSuccess { token viewer { id provider { id } } }
  ... on MutationError { code message }"""
SIGN_UP_PROVIDER = (
    f"mutation($i: SignUpProviderInput!) {{ signUpProvider(input: $i) {{ {AUTH} }} }}"
)
SIGN_UP_CLIENT = f"mutation($i: SignUpClientInput!) {{ signUpClient(input: $i) {{ {AUTH} }} }}"
VERIFY = f"mutation($i: VerifyEmailInput!) {{ verifyEmail(input: $i) {{ {AUTH} }} }}"
LOG_IN = "mutation($i: LogInInput!) { logIn(input: $i) { __typename } }"
ADD_CLIENT = "mutation($i: AddClientInput!) { addClient(input: $i) { __typename } }"
ADD_CLIENTS = """mutation($i: AddClientsInput!) { addClients(input: $i) {
  __typename ... on AddClientsSuccess { results { __typename } } } }"""
SEND = "mutation($i: SendMessageInput!) { sendMessage(input: $i) { __typename } }"
START_IMPORT = """mutation($i: StartClientImportInput!) { startClientImport(input: $i) {
  __typename ... on StartClientImportSuccess { clientImport { id totalRows } }
  ... on MutationError { code message } } }"""
IMPORT_STATUS = """query($id: ID!) { clientImport(id: $id) {
  status totalRows processedRows createdCount errorCount duplicateCount } }"""
PROGRESS = "subscription($id: ID!) { clientImportProgress(id: $id) { status processedRows } }"
CLIENT_UPDATED = "subscription { clientUpdated { id } }"
MESSAGE_RECEIVED = "subscription { messageReceived { id } }"


@dataclass
class Op:
    """Latencies and failures of one kind of operation."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    samples: list[str] = field(default_factory=list)  # a few failure descriptions, no PHI

    def fail(self, why: str) -> None:
        self.errors += 1
        if len(self.samples) < 3:
            self.samples.append(why[:160])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


@dataclass
class Run:
    base: str
    mail_dir: Path
    deadline: float
    ops: dict[str, Op] = field(default_factory=dict)
    # /healthz samples (started, seconds) and the spans (start, end) of hostile requests, on
    # the machine's monotonic clock, which every process of the run shares
    health: list[tuple[float, float]] = field(default_factory=list)
    hostile_spans: list[tuple[float, float]] = field(default_factory=list)
    events: int = 0

    def op(self, name: str) -> Op:
        return self.ops.setdefault(name, Op())

    def report(self) -> dict[str, Any]:
        """What a helper process measured, for the parent to merge."""
        return {
            "ops": {n: (o.latencies, o.errors, o.samples) for n, o in self.ops.items()},
            "health": self.health,
            "hostile_spans": self.hostile_spans,
            "events": self.events,
        }

    def merge(self, report: dict[str, Any]) -> None:
        for name, (latencies, errors, samples) in report["ops"].items():
            op = self.op(name)
            op.latencies.extend(latencies)
            op.errors += errors
            op.samples.extend(samples[: max(0, 3 - len(op.samples))])
        self.health.extend(report["health"])
        self.hostile_spans.extend(report["hostile_spans"])
        self.events += report["events"]

    def health_during_hostile(self) -> list[float]:
        spans = sorted(self.hostile_spans)
        return [
            seconds
            for started, seconds in self.health
            if any(a <= started + seconds and started <= b for a, b in spans)
        ]

    async def timed(
        self, name: str, call: Awaitable[httpx.Response], ok: Callable[[httpx.Response], str]
    ) -> httpx.Response | None:
        """Run one request; `ok` returns "" when the answer is right, else why not."""
        started = time.perf_counter()
        try:
            response = await call
        except httpx.HTTPError as error:
            self.op(name).latencies.append(time.perf_counter() - started)
            self.op(name).fail(f"transport: {type(error).__name__}")
            return None
        self.op(name).latencies.append(time.perf_counter() - started)
        why = ok(response)
        if why:
            self.op(name).fail(why)
        return response


def _typename(path: str, wanted: str) -> Callable[[httpx.Response], str]:
    def check(response: httpx.Response) -> str:
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        body = response.json()
        if body.get("errors"):
            return f"errors: {body['errors'][0].get('message')}"
        got = body["data"][path]["__typename"]
        return "" if got == wanted else f"{path}: {got}"

    return check


def _no_server_error(response: httpx.Response) -> str:
    """A hostile request may be refused (400, 413, GraphQL errors) but never a 5xx or text."""
    if response.status_code >= 500:
        return f"HTTP {response.status_code}"
    if not response.headers.get("content-type", "").startswith("application/json"):
        return f"not JSON: HTTP {response.status_code}"
    return ""


def _client(address: str | None = None, timeout: float = 60) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address) if address else None
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
    return httpx.AsyncClient(transport=transport, timeout=timeout, limits=limits)


def _gql(query: str, variables: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return {"json": {"query": query, "variables": variables}, "headers": headers}


# --- the server -------------------------------------------------------------------------


@dataclass
class Serve:
    process: subprocess.Popen[bytes]
    base: str
    log: Path
    redis_port: int = 0

    def workers(self) -> list[psutil.Process]:
        """The workers and their own children (an import's row reader runs in one)."""
        workers = [p for p in self._children() if "caseload.cli worker" in _cmdline(p)]
        for worker in list(workers):
            with contextlib.suppress(psutil.Error):
                workers.extend(worker.children(recursive=True))
        return workers

    def apis(self) -> list[psutil.Process]:
        """The API processes: `serve` itself, or its `serve-api` children (CASELOAD_API_PROCESSES)."""
        children = [p for p in self._children() if "caseload.cli serve-api" in _cmdline(p)]
        return children or [psutil.Process(self.process.pid)]

    def redis(self) -> list[psutil.Process]:
        return [p for p in self._children() if "-server" in _cmdline(p)]

    def _children(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children()
        except psutil.Error:
            return []

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _cmdline(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


async def start_serve(
    data_dir: Path, database_url: str | None, api_processes: int | None = None
) -> Serve:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASELOAD_")}
    env.update(
        {
            "CASELOAD_PORT": str(port),
            "CASELOAD_DATA_DIR": str(data_dir),
            "CASELOAD_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "PYTHONPATH": str(ROOT),
        }
    )
    if database_url:
        env["CASELOAD_DATABASE_URL"] = database_url
    if api_processes:
        env["CASELOAD_API_PROCESSES"] = str(api_processes)
    log = data_dir.parent / "serve.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "caseload.cli", "serve"],
        cwd=data_dir.parent,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    serve = Serve(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 60
    async with _client() as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"serve exited: {log.read_text(errors='replace')[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"{serve.base}/readyz")).status_code == 200:
                    break
            await asyncio.sleep(0.2)
        else:
            raise RuntimeError("serve did not become ready within 60 s")
    found = re.search(r"embedded Redis on port (\d+)", log.read_text(errors="replace"))
    serve.redis_port = int(found.group(1)) if found else 0
    return serve


# --- people -------------------------------------------------------------------------------


async def _mail_to(mail_dir: Path, address: str, limit: float = 60) -> bytes:
    deadline = time.monotonic() + limit
    parser = BytesParser(policy=policy.default)
    while time.monotonic() < deadline:
        for path in sorted(mail_dir.glob("*.eml")) if mail_dir.exists() else []:
            data = path.read_bytes()
            if parser.parsebytes(data)["To"] == address:
                return data
        await asyncio.sleep(0.2)
    raise RuntimeError("a confirmation e-mail never arrived")


@dataclass
class Person:
    number: int
    token: str
    user_id: str
    provider_id: str | None


async def provider(run: Run, http: httpx.AsyncClient, number: int, tag: str) -> Person:
    """Signs up and confirms the address through the link in the e-mail, as a person would."""
    email = f"load-{tag}-p{number}@load.example"
    variables = {"i": {"email": email, "password": PASSWORD, "displayName": f"Dr {number}"}}
    response = await run.timed(
        "signUpProvider",
        http.post(f"{run.base}/graphql", **_gql(SIGN_UP_PROVIDER, variables)),
        _typename("signUpProvider", "AuthSuccess"),
    )
    assert response is not None
    result = response.json()["data"]["signUpProvider"]
    mail = BytesParser(policy=policy.default).parsebytes(await _mail_to(run.mail_dir, email))
    found = re.search(r"[?&]token=([A-Za-z0-9_\-]+)", mail.get_content())  # type: ignore[attr-defined]
    if not found:
        raise RuntimeError("no link in the confirmation e-mail")
    await run.timed(
        "verifyEmail",
        http.post(f"{run.base}/graphql", **_gql(VERIFY, {"i": {"token": found.group(1)}})),
        _typename("verifyEmail", "AuthSuccess"),
    )
    viewer = result["viewer"]
    return Person(number, result["token"], viewer["id"], viewer["provider"]["id"])


async def client(run: Run, http: httpx.AsyncClient, number: int, tag: str) -> Person:
    variables = {
        "i": {
            "email": f"load-{tag}-c{number}@load.example",
            "password": PASSWORD,
            "firstName": "Cleo",
            "lastName": f"Load{number}",
        }
    }
    response = await run.timed(
        "signUpClient",
        http.post(f"{run.base}/graphql", **_gql(SIGN_UP_CLIENT, variables)),
        _typename("signUpClient", "AuthSuccess"),
    )
    assert response is not None
    result = response.json()["data"]["signUpClient"]
    return Person(number, result["token"], result["viewer"]["id"], None)


# --- the load -----------------------------------------------------------------------------


async def add_clients(run: Run, http: httpx.AsyncClient, person: Person, tag: str) -> None:
    step = 0
    while time.monotonic() < run.deadline:
        step += 1
        prefix = f"{tag}-p{person.number}-{step}"
        if step % BATCH_EVERY == 5:  # early on too, so a short run has batches
            batch = [
                {"firstName": "Bea", "lastName": f"B{k}", "email": f"{prefix}-{k}@load.example"}
                for k in range(BATCH)
            ]

            def all_added(response: httpx.Response) -> str:
                why = _typename("addClients", "AddClientsSuccess")(response)
                if why:
                    return why
                results = response.json()["data"]["addClients"]["results"]
                bad = [r["__typename"] for r in results if r["__typename"] != "AddClientSuccess"]
                return f"{len(bad)} items not added" if bad else ""

            await run.timed(
                f"addClients x{BATCH}",
                http.post(
                    f"{run.base}/graphql",
                    **_gql(ADD_CLIENTS, {"i": {"clients": batch}}, person.token),
                ),
                all_added,
            )
        else:
            variables = {
                "i": {"firstName": "Ada", "lastName": "L", "email": f"{prefix}@load.example"}
            }
            await run.timed(
                "addClient",
                http.post(f"{run.base}/graphql", **_gql(ADD_CLIENT, variables, person.token)),
                _typename("addClient", "AddClientSuccess"),
            )


async def send_messages(
    run: Run, http: httpx.AsyncClient, person: Person, providers: list[Person]
) -> None:
    target = providers[person.number % len(providers)]
    count = 0
    while time.monotonic() < run.deadline:
        count += 1
        variables = {"i": {"providerId": target.provider_id, "body": f"load message {count}"}}
        await run.timed(
            "sendMessage",
            http.post(f"{run.base}/graphql", **_gql(SEND, variables, person.token)),
            _typename("sendMessage", "MessageSuccess"),
        )
        await asyncio.sleep(MESSAGE_EVERY_SECONDS)


@contextlib.asynccontextmanager
async def _socket(
    run: Run, http: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any]
) -> AsyncIterator[Any]:
    url = run.base.replace("http://", "ws://") + "/graphql"
    async with aconnect_ws(url, http, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send_json(
            {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        )
        ack = await asyncio.wait_for(ws.receive_json(), 30)
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"no connection_ack: {ack.get('type')}")
        await ws.send_json(
            {"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}
        )
        yield ws


async def hold_subscription(
    run: Run, http: httpx.AsyncClient, token: str, query: str, opened: asyncio.Event
) -> None:
    """One open subscription until the deadline; events counted, an error or close is a failure."""
    started = time.perf_counter()
    try:
        async with _socket(run, http, token, query, {}) as ws:
            run.op("subscription (open)").latencies.append(time.perf_counter() - started)
            opened.set()
            while True:
                left = run.deadline - time.monotonic()
                if left <= 0:
                    return
                try:
                    message = await asyncio.wait_for(ws.receive_json(), left)
                except TimeoutError:
                    return
                if message.get("type") == "next" and not message["payload"].get("errors"):
                    run.events += 1
                elif message.get("type") == "next":
                    error = message["payload"]["errors"][0]
                    code = (error.get("extensions") or {}).get("code")
                    run.op("subscription (open)").fail(f"error {code}: {error.get('message')}")
                    return
                elif message.get("type") not in ("ping", "pong"):
                    run.op("subscription (open)").fail(f"got {message.get('type')}")
                    return
    except Exception as error:  # noqa: BLE001 - any failure to hold it open is counted
        opened.set()
        run.op("subscription (open)").fail(type(error).__name__)


async def run_import(
    run: Run, http: httpx.AsyncClient, person: Person, rows: int, data: bytes
) -> dict[str, Any]:
    operations = {
        "query": START_IMPORT,
        "variables": {"i": {"file": None, "sendInvitations": True}},
    }
    response = await run.timed(
        f"startClientImport {rows:,} rows",
        http.post(
            f"{run.base}/graphql",
            files={
                "operations": (None, json.dumps(operations)),
                "map": (None, json.dumps({"0": ["variables.i.file"]})),
                "0": ("clients.csv", data, "text/csv"),
            },
            headers={"authorization": f"Bearer {person.token}", "apollo-require-preflight": "1"},
        ),
        _typename("startClientImport", "StartClientImportSuccess"),
    )
    if response is None or response.status_code != 200:
        return {}
    started = response.json()["data"]["startClientImport"]
    if "clientImport" not in started:
        return {}
    import_id = started["clientImport"]["id"]
    try:  # follow its progress like a front end; the poll below gives the final counts
        async with _socket(run, http, person.token, PROGRESS, {"id": import_id}) as ws:
            while True:
                message = await asyncio.wait_for(ws.receive_json(), 600)
                if message.get("type") == "complete":
                    break
                if message.get("type") == "next":
                    run.events += 1
    except Exception as error:  # noqa: BLE001 - counted, then the state is read below
        run.op("import progress subscription").fail(type(error).__name__)
    answer = await http.post(
        f"{run.base}/graphql", **_gql(IMPORT_STATUS, {"id": import_id}, person.token)
    )
    status: dict[str, Any] = answer.json()["data"]["clientImport"]
    return status


async def hostile(run: Run, tag: str) -> None:
    """An anonymous caller: costly documents, log-in floods, malformed bodies, in turn."""
    aliases = json.dumps({"query": "{ " + " ".join(["me { id }"] * 490) + " }"}).encode()
    comment = json.dumps({"query": "#" + "x" * 19_000_000 + "\n{ __typename }"}).encode()
    as_json = {"content-type": "application/json"}
    malformed: dict[str, bytes] = {
        "body: invalid UTF-8": b'{"query": "\xff\xfe{ me { id } }"}',
        "body: JSON not an object": b"[1, 2, 3]",
        "body: not JSON": b"{query: nope",
        "body: JSON 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
    }
    round_ = 0
    async with _client(timeout=120) as http:
        while time.monotonic() < run.deadline:
            round_ += 1
            address = f"127.0.1.{round_ % 250 + 1}"
            began = time.monotonic()
            try:
                await run.timed(
                    "hostile: 490 x me { id }",
                    http.post(f"{run.base}/graphql", content=aliases, headers=as_json),
                    _no_server_error,
                )
                await run.timed(
                    "hostile: 19 MB comment",
                    http.post(f"{run.base}/graphql", content=comment, headers=as_json),
                    _no_server_error,
                )
                for name, body in malformed.items():
                    await run.timed(
                        f"hostile: {name}",
                        http.post(f"{run.base}/graphql", content=body, headers=as_json),
                        _no_server_error,
                    )
                async with _client(address, timeout=120) as login_http:
                    await asyncio.gather(
                        *(
                            run.timed(
                                "hostile: wrong-password log-in (30 at once)",
                                login_http.post(
                                    f"{run.base}/graphql",
                                    **_gql(
                                        LOG_IN,
                                        {
                                            "i": {
                                                "email": f"nobody-{tag}-{round_}-{k}@load.example",
                                                "password": "wrong-password-123",
                                            }
                                        },
                                    ),
                                ),
                                _no_server_error,
                            )
                            for k in range(30)
                        )
                    )
            finally:
                run.hostile_spans.append((began, time.monotonic()))
            await asyncio.sleep(HOSTILE_PAUSE_SECONDS)


async def probe_health(run: Run) -> None:
    async with _client(timeout=60) as http:
        while time.monotonic() < run.deadline:
            started = time.monotonic()
            try:
                response = await http.get(f"{run.base}/healthz")
                if response.status_code != 200:
                    run.op("/healthz").fail(f"HTTP {response.status_code}")
            except httpx.HTTPError as error:
                run.op("/healthz").fail(type(error).__name__)
            elapsed = time.monotonic() - started
            run.health.append((started, elapsed))
            run.op("/healthz").latencies.append(elapsed)
            await asyncio.sleep(0.05)


# --- helper processes -------------------------------------------------------------------------
# The prober, the hostile caller and the subscribers each run in a process of their own, so
# that no one's work (a 19 MB upload, 100 sockets' events) delays another's clock.


def _in_process(role: str, base: str, deadline: float, params: dict[str, Any]) -> dict[str, Any]:
    run = Run(base, Path(params.get("mail_dir", ".")), deadline=deadline)

    async def subscribers() -> None:
        async with _client(CLIENT_ADDRESS) as http:
            await asyncio.gather(
                *(
                    hold_subscription(run, http, token, query, asyncio.Event())
                    for token, query in params["subscriptions"]
                )
            )

    roles: dict[str, Callable[[], Awaitable[None]]] = {
        "probe": lambda: probe_health(run),
        "hostile": lambda: hostile(run, params["tag"]),
        "subscribers": subscribers,
    }
    asyncio.run(roles[role]())
    return run.report()


async def helper(
    pool: ProcessPoolExecutor, role: str, run: Run, params: dict[str, Any] | None = None
) -> None:
    loop = asyncio.get_running_loop()
    report = await loop.run_in_executor(
        pool, _in_process, role, run.base, run.deadline, params or {}
    )
    run.merge(report)


@dataclass
class Peaks:
    redis_clients: int = 0
    api_redis_connections: int = 0
    api_processes: int = 0
    memory_mb: dict[str, float] = field(default_factory=dict)


async def sample(serve: Serve, peaks: Peaks, until: Callable[[], bool]) -> None:
    redis = aioredis.from_url(f"redis://127.0.0.1:{serve.redis_port}") if serve.redis_port else None
    try:
        while not until():
            if redis is not None:
                with contextlib.suppress(Exception):
                    info = await redis.info("clients")
                    peaks.redis_clients = max(
                        peaks.redis_clients, int(info["connected_clients"]) - 1
                    )
            apis = serve.apis()
            for api in apis:  # the most any one API process holds
                with contextlib.suppress(psutil.Error):
                    held = [
                        c
                        for c in api.net_connections(kind="tcp")
                        if c.raddr and c.raddr.port == serve.redis_port
                    ]
                    peaks.api_redis_connections = max(peaks.api_redis_connections, len(held))
            peaks.api_processes = max(peaks.api_processes, len(apis))
            roles = {"api": apis, "workers": serve.workers(), "redis": serve.redis()}
            for role, processes in roles.items():
                total = 0.0
                for process in processes:
                    with contextlib.suppress(psutil.Error):
                        total += process.memory_info().rss / 1e6
                peaks.memory_mb[role] = max(peaks.memory_mb.get(role, 0.0), total)
            await asyncio.sleep(0.5)
    finally:
        if redis is not None:
            await redis.aclose()


async def outbox_counts(database_url: str | None, data_dir: Path) -> dict[str, int]:
    """Outgoing e-mail by status, read from the database itself."""
    query = "SELECT status, COUNT(*) FROM outbox_messages GROUP BY status"
    if database_url and not database_url.startswith("sqlite"):
        import asyncpg  # only for PostgreSQL runs

        conn = await asyncpg.connect(database_url)
        try:
            return {row[0]: int(row[1]) for row in await conn.fetch(query)}
        finally:
            await conn.close()
    with sqlite3.connect(data_dir / "caseload.sqlite3") as conn:
        return {status: int(count) for status, count in conn.execute(query)}


# --- the run --------------------------------------------------------------------------------


async def load(args: argparse.Namespace, work: Path, database_url: str | None) -> dict[str, Any]:
    data_dir = work / "var"
    data_dir.mkdir(parents=True)
    tag = f"r{int(time.time())}"
    serve = await start_serve(data_dir, database_url, args.api_processes)
    run = Run(serve.base, data_dir / "mail", deadline=float("inf"))
    peaks = Peaks()
    finished = False
    samplers = [asyncio.ensure_future(sample(serve, peaks, lambda: finished))]
    # made before the clock starts: generating 20,000 rows is not the server's time
    csvs = [
        make_csv(args.import_rows, seed=n, domain=f"imp{n}.{tag}.load.example")
        for n in range(args.importers)
    ]
    pool = ProcessPoolExecutor(3, mp_context=multiprocessing.get_context("spawn"))
    try:
        # the helper processes start (and import their modules) before the clock does
        await asyncio.gather(*(asyncio.wrap_future(pool.submit(time.sleep, 0.5)) for _ in range(3)))
        async with (
            _client(PROVIDER_ADDRESS) as provider_http,
            _client(CLIENT_ADDRESS) as client_http,
        ):
            providers = await asyncio.gather(
                *(provider(run, provider_http, n, tag) for n in range(args.providers))
            )
            clients = await asyncio.gather(
                *(client(run, client_http, n, tag) for n in range(args.providers))
            )
            subscriptions = [
                (providers[n % len(providers)].token, CLIENT_UPDATED)
                if n < args.subscriptions * 3 // 5
                else (clients[n % len(clients)].token, MESSAGE_RECEIVED)
                for n in range(args.subscriptions)
            ]
            run.deadline = time.monotonic() + args.seconds
            started = time.monotonic()
            helpers = [
                helper(pool, "probe", run),
                helper(pool, "subscribers", run, {"subscriptions": subscriptions}),
                *([helper(pool, "hostile", run, {"tag": tag})] if args.hostile else []),
            ]
            imports = [
                asyncio.ensure_future(run_import(run, provider_http, p, args.import_rows, data))
                for p, data in zip(providers[: args.importers], csvs, strict=True)
            ]
            work_tasks = [
                *(add_clients(run, provider_http, p, tag) for p in providers),
                *(send_messages(run, client_http, c, providers) for c in clients),
            ]
            await asyncio.gather(*work_tasks, *helpers)
            load_seconds = time.monotonic() - started
            done, pending = (
                await asyncio.wait(imports, timeout=args.drain) if imports else (set(), set())
            )
            for task in pending:
                task.cancel()
            import_states = [t.result() if t in done and not t.exception() else {} for t in imports]
            drained = time.monotonic() - started - load_seconds
    finally:
        finished = True
        await asyncio.gather(*samplers, return_exceptions=True)
        pool.shutdown(cancel_futures=True)
        serve.stop()
    outbox = await outbox_counts(database_url, data_dir)
    return {
        "backend": "PostgreSQL" if database_url else "SQLite",
        "seconds": round(load_seconds, 1),
        "drain_seconds": round(drained, 1),
        "ops": {
            name: {
                "count": len(op.latencies),
                "errors": op.errors,
                "p50_ms": round(percentile(op.latencies, 0.5), 1),
                "p99_ms": round(percentile(op.latencies, 0.99), 1),
                "failures": op.samples,
            }
            for name, op in sorted(run.ops.items())
        },
        "healthz_p99_ms": round(percentile([s for _, s in run.health], 0.99), 1),
        "healthz_p99_hostile_ms": round(percentile(run.health_during_hostile(), 0.99), 1),
        "healthz_max_ms": round(max((s for _, s in run.health), default=0) * 1000, 1),
        "subscription_events": run.events,
        "redis_clients_peak": peaks.redis_clients,
        "api_redis_connections_peak": peaks.api_redis_connections,
        "api_processes": peaks.api_processes,
        "peak_memory_mb": {k: round(v) for k, v in peaks.memory_mb.items()},
        "imports": import_states,
        "import_rows": args.import_rows,
        "outbox": outbox,
        "serve_restarts_logged": serve.log.read_text(errors="replace").count("starting another in"),
    }


HEALTHZ_P99_MS = 100
ADD_CLIENT_P99_MS = 250
API_REDIS_CONNECTIONS = 10  # "a handful": the queue and pub/sub pools, not one per socket
WRITES = ("addClient", "addClients", "sendMessage", "signUp", "verifyEmail", "startClientImport")


def verdict(summary: dict[str, Any]) -> list[str]:
    """What went wrong, one line each; empty when the run met its bar."""
    problems = []
    for name, op in summary["ops"].items():
        if op["errors"]:
            kind = "write" if name.startswith(WRITES) else "request"
            problems.append(f"{op['errors']} failed {kind}s: {name} (e.g. {op['failures'][:1]})")
    for number, state in enumerate(summary["imports"]):
        rows = summary["import_rows"]
        if state.get("status") != "COMPLETED" or state.get("createdCount") != rows:
            problems.append(f"import {number + 1} ended {state or 'unknown'}, expected {rows} rows")
    if summary["outbox"].get("FAILED"):
        problems.append(f"{summary['outbox']['FAILED']} e-mails FAILED")
    # the targets of issue #13
    if summary["healthz_p99_hostile_ms"] > HEALTHZ_P99_MS:
        problems.append(
            f"/healthz p99 {summary['healthz_p99_hostile_ms']} ms while hostile requests ran "
            f"(target < {HEALTHZ_P99_MS} ms)"
        )
    add_p99 = summary["ops"].get("addClient", {}).get("p99_ms", 0)
    if summary["backend"] == "SQLite" and add_p99 > ADD_CLIENT_P99_MS:
        problems.append(f"addClient p99 {add_p99} ms (target < {ADD_CLIENT_P99_MS} ms on SQLite)")
    if summary["api_redis_connections_peak"] > API_REDIS_CONNECTIONS:
        problems.append(
            f"the API process held {summary['api_redis_connections_peak']} Redis connections "
            f"(target <= {API_REDIS_CONNECTIONS}, whatever the number of subscriptions)"
        )
    return problems


def print_summary(summary: dict[str, Any]) -> None:
    out = sys.stdout
    out.write(
        f"\nmake load on {summary['backend']}: {summary['seconds']} s of load, "
        f"then {summary['drain_seconds']} s for the imports\n"
    )
    width = max(len(name) for name in summary["ops"])
    out.write(f"{'operation':<{width}}  {'count':>7} {'errors':>7} {'p50 ms':>9} {'p99 ms':>9}\n")
    out.write("-" * (width + 36) + "\n")
    for name, op in summary["ops"].items():
        out.write(
            f"{name:<{width}}  {op['count']:>7} {op['errors']:>7} "
            f"{op['p50_ms']:>9.1f} {op['p99_ms']:>9.1f}\n"
        )
    out.write(
        f"\n/healthz p99 {summary['healthz_p99_ms']} ms (while a hostile request was in flight: "
        f"{summary['healthz_p99_hostile_ms']} ms; worst {summary['healthz_max_ms']} ms)\n"
        f"Redis clients: peak {summary['redis_clients_peak']} in all, "
        f"{summary['api_redis_connections_peak']} held by an API process "
        f"({summary.get('api_processes', 1)} API processes)\n"
        f"peak memory: "
        + ", ".join(f"{k} {v} MB" for k, v in summary["peak_memory_mb"].items())
        + f"\nsubscription events received: {summary['subscription_events']}\n"
        f"imports: "
        + "; ".join(
            f"{s.get('status')} {s.get('createdCount')}/{s.get('totalRows')} created"
            for s in summary["imports"]
        )
        + f"\noutbox: {summary['outbox']}\n"
    )


def _postgres(work: Path) -> tuple[str, Path]:
    directory = work / "pg"
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "postgres.sh"), "start", str(directory), str(free_port())],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"could not start PostgreSQL: {result.stderr.strip()[-500:]}")
    return result.stdout.strip(), directory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make load", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--drain", type=float, default=180, help="most seconds to wait for imports")
    parser.add_argument("--providers", type=int, default=20)
    parser.add_argument("--importers", type=int, default=4)
    parser.add_argument("--import-rows", type=int, default=20_000)
    parser.add_argument("--subscriptions", type=int, default=100)
    parser.add_argument(
        "--no-hostile", dest="hostile", action="store_false", help="leave the hostile caller out"
    )
    parser.add_argument("--database-url", default=os.environ.get("CASELOAD_LOAD_DATABASE_URL"))
    parser.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL")
    parser.add_argument(
        "--api-processes", type=int, help="CASELOAD_API_PROCESSES (unset: serve's default)"
    )
    parser.add_argument("--json", type=Path, help="also write the summary here")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="caseload-load-"))
    work.chmod(0o755)  # as root, a throwaway PostgreSQL runs as `postgres` and needs the dir
    pg_dir: Path | None = None
    try:
        database_url = args.database_url
        if args.postgres and not database_url:
            database_url, pg_dir = _postgres(work)
        summary = asyncio.run(load(args, work, database_url))
    finally:
        if pg_dir is not None:
            subprocess.run(
                ["bash", str(ROOT / "scripts" / "postgres.sh"), "stop", str(pg_dir)],
                capture_output=True,
                check=False,
            )
        shutil.rmtree(work, ignore_errors=True)
    problems = verdict(summary)
    summary["problems"] = problems
    print_summary(summary)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    for problem in problems:
        sys.stdout.write(f"FAILED: {problem}\n")
    if not problems:
        sys.stdout.write("load passed: no failed request\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
