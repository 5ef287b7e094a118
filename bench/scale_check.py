"""`make scale-check`: the API and the workers scale out as separate processes (no Docker).

A throwaway PostgreSQL (scripts/postgres.sh) and an embedded Redis; two API processes on
different ports. Four providers at once each import a 25,000-row CSV through API #1 while
subscribed to the import's progress through API #2; three such rounds (fresh providers each
time) with one worker process, then the same on a fresh database with two. Checks: every
subscriber sees progress and completion; every count is exact (the final events, each
provider's `clients.totalCount`, and the database); both workers run imports (the lease owner
that claims each import, sampled from `client_imports.lease_owner`: each worker process claims
under its own id); a message sent through one API process reaches a subscriber on the other,
both ways. Prints rows/s of both runs, their ratio and where the CPU went; exits non-zero when a
check fails (never on the ratio: it depends on the machine's cores).

SCALE_CHECK_ROWS and SCALE_CHECK_ROUNDS change the file size and the rounds per run.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import psutil
import redis.asyncio as aioredis
import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.datagen import make_csv  # noqa: E402
from bench.stack import (  # noqa: E402
    PASSWORD,
    Stack,
    follow,
    migrate,
    sign_up,
    stack_env,
    upload,
    wait_ready,
)
from caseload.embedded_redis import EmbeddedRedis, free_port  # noqa: E402
from resolvers.effects import messages_channel  # noqa: E402

PROVIDERS = 4
ROWS = int(os.environ.get("SCALE_CHECK_ROWS", "25000"))
ROUNDS = int(os.environ.get("SCALE_CHECK_ROUNDS", "3"))
ROUND_TIMEOUT = 120.0
WORKER_WARM_UP = 3.0  # a worker connects to Redis and PostgreSQL before it polls the queue

ME = "{ me { id provider { id } client { id } } }"
COUNT = "{ clients(first: 1) { totalCount } }"
SIGN_UP_CLIENT = """mutation($i: SignUpClientInput!) { signUpClient(input: $i) {
  __typename ... on AuthSuccess { token } ... on MutationError { code message } } }"""
SEND = """mutation($i: SendMessageInput!) { sendMessage(input: $i) {
  __typename ... on MessageSuccess { message { id } thread { id } }
  ... on MutationError { code reason: message } } }"""
RECEIVED = "subscription { messageReceived { id senderRole } }"


@dataclass
class Phase:
    workers: int
    round_seconds: list[float] = field(default_factory=list)
    imports_by_owner: dict[str, int] = field(default_factory=dict)  # lease owner -> imports
    splits: list[list[int]] = field(default_factory=list)  # per round: imports per owner
    cpu: dict[str, float] = field(default_factory=dict)  # process -> CPU s in timed windows
    subscribers_ok: bool = True
    counts_ok: bool = True
    problems: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return PROVIDERS * ROWS * len(self.round_seconds)

    @property
    def seconds(self) -> float:
        return sum(self.round_seconds) if self.round_seconds else float("nan")

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.round_seconds else float("nan")

    @property
    def all_workers_took_part(self) -> bool:
        return len(self.imports_by_owner) == self.workers


# --- GraphQL over HTTP and WebSocket --------------------------------------------------------


async def gql(
    base: str, query: str, variables: dict[str, Any] | None = None, token: str = ""
) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=60) as http:
        response = await http.post(
            f"{base}/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    return body["data"]


class Feed:
    """One graphql-transport-ws subscription on an open socket."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def next(self, timeout: float) -> dict[str, Any]:
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if message["type"] == "ping":
                await self.ws.send(json.dumps({"type": "pong"}))
                continue
            if message["type"] != "next" or message["payload"].get("errors"):
                raise RuntimeError(f"subscription failed: {message.get('type')}")
            return dict(message["payload"]["data"])


@asynccontextmanager
async def subscribe(base: str, token: str, query: str) -> AsyncIterator[Feed]:
    url = base.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        )
        ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if ack["type"] != "connection_ack":
            raise RuntimeError(f"connection refused: {ack['type']}")
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        yield Feed(ws)


async def listening(redis_url: str, user_id: str) -> None:
    """Wait until an API process subscribed to the account's channel: the stream is live."""
    redis = aioredis.from_url(redis_url)
    try:
        for _ in range(500):
            numbers = dict(await redis.pubsub_numsub(messages_channel(user_id)))
            if all(n >= 1 for n in numbers.values()):
                return
            await asyncio.sleep(0.01)
        raise RuntimeError("no API process subscribed to the message channel")
    finally:
        await redis.aclose()


# --- PostgreSQL -----------------------------------------------------------------------------


def start_postgres(directory: Path) -> str:
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "postgres.sh"), "start", str(directory), str(free_port())],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"scripts/postgres.sh could not start PostgreSQL:\n{result.stderr}")
    return result.stdout.strip()


def stop_postgres(directory: Path) -> None:
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "postgres.sh"), "stop", str(directory)],
        capture_output=True,
        check=False,
    )


async def fresh_database(admin_url: str, name: str) -> str:
    """An empty database on the same server, so each run starts from the same state."""
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def sample_lease_owners(database_url: str, owners: dict[str, set[str]]) -> None:
    """Which worker holds each running import (client_imports.lease_owner), until cancelled.

    Each worker process claims an import under its own id (a uuid made at start-up) and keeps
    it until the import finishes, so the owners seen are the worker processes that ran it.
    """
    conn = await asyncpg.connect(database_url)
    try:
        while True:
            for record in await conn.fetch(
                "SELECT id::text AS id, lease_owner FROM client_imports "
                "WHERE lease_owner IS NOT NULL"
            ):
                owners.setdefault(record["id"], set()).add(record["lease_owner"])
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


def cpu_seconds(pid: int, *, with_children: bool = False) -> float:
    """User + system CPU of a process; with children, also its live and reaped children."""
    try:
        process = psutil.Process(pid)
        times = process.cpu_times()
        total = times.user + times.system
        if with_children:
            total += times.children_user + times.children_system
            for child in process.children(recursive=True):
                try:
                    child_times = child.cpu_times()
                except psutil.Error:
                    continue
                total += child_times.user + child_times.system
    except psutil.Error:
        return float("nan")
    return float(total)


def postmaster_pid(pg_dir: Path) -> int | None:
    try:
        return int((pg_dir / "data" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class CpuMeter:
    """CPU seconds per process of the stack, summed over the timed windows."""

    pids: dict[str, tuple[int, bool]]  # name -> (pid, count its children)

    def snapshot(self) -> dict[str, float]:
        return {
            name: cpu_seconds(pid, with_children=kids) for name, (pid, kids) in self.pids.items()
        }


# --- one run --------------------------------------------------------------------------------

Result = tuple[dict[str, Any], float, list[dict[str, Any]]]


async def import_and_follow(api1: str, api2: str, token: str, data: bytes, index: int) -> Result:
    job = await upload(api1, token, data, f"clients-{index}.csv", sendInvitations=False)
    answered = time.perf_counter()
    events = await follow(api2, token, job["id"])
    return job, answered, events


async def run_phase(
    phase: Phase,
    database_url: str,
    redis_url: str,
    data_dir: Path,
    shared: dict[str, tuple[int, bool]],
    *,
    check_messages: bool,
) -> dict[str, str]:
    env = stack_env(
        database_url,
        redis_url,
        data_dir,
        CASELOAD_EMAIL_BACKEND="console",
        CASELOAD_MAX_UPLOAD_BYTES=str(50_000_000),
        CASELOAD_MAX_IMPORT_ROWS=str(max(ROWS, 100_000)),
    )
    migrate(env)
    stack = Stack(env)
    messages: dict[str, str] = {}
    try:
        api1, api2 = stack.start_api(), stack.start_api()
        await asyncio.gather(wait_ready(api1), wait_ready(api2))
        workers = [stack.start_worker() for _ in range(phase.workers)]
        await asyncio.sleep(WORKER_WARM_UP)
        for worker in workers:
            if worker.poll() is not None:
                raise RuntimeError(f"worker exited with {worker.returncode} at start-up")
        meter = CpuMeter(
            {
                "API #1": (stack.apis[0].pid, False),
                "API #2": (stack.apis[1].pid, False),
                **{f"worker {n + 1}": (w.pid, False) for n, w in enumerate(workers)},
                **shared,
            }
        )
        for number in range(1, ROUNDS + 1):
            await run_round(phase, number, api1, api2, database_url, meter)
        await check_database_totals(phase, database_url)
        if check_messages:
            messages = await check_cross_process_messages(api1, api2, redis_url)
    finally:
        stack.stop()
    return messages


async def run_round(
    phase: Phase, number: int, api1: str, api2: str, database_url: str, meter: CpuMeter
) -> None:
    """Four fresh providers import at once; the clock runs from the first upload answer."""
    files = [
        make_csv(ROWS, domain=f"p{i}.r{number}.w{phase.workers}.scale.example")
        for i in range(PROVIDERS)
    ]
    tokens = list(await asyncio.gather(*(sign_up(api1) for _ in range(PROVIDERS))))
    owners: dict[str, set[str]] = {}
    sampler = asyncio.ensure_future(sample_lease_owners(database_url, owners))
    before = meter.snapshot()
    try:
        results = await asyncio.wait_for(
            asyncio.gather(
                *(
                    import_and_follow(api1, api2, token, data, i)
                    for i, (token, data) in enumerate(zip(tokens, files, strict=True))
                )
            ),
            ROUND_TIMEOUT,
        )
    finally:
        sampler.cancel()
        await asyncio.gather(sampler, return_exceptions=True)
    after = meter.snapshot()
    for name, value in after.items():
        phase.cpu[name] = phase.cpu.get(name, 0.0) + value - before[name]

    first_answer = min(answered for _, answered, _ in results)
    last_event = max(events[-1]["at"] for _, _, events in results if events)
    seconds = last_event - first_answer
    phase.round_seconds.append(seconds)
    prefix = f"round {number}"
    check_subscribers(phase, prefix, results)
    await check_counts(phase, prefix, api1, tokens, database_url, results)
    split = attribute(phase, prefix, owners, [job["id"] for job, _, _ in results])
    print(
        f"  {prefix}: {PROVIDERS * ROWS:,} rows in {seconds:.1f} s = "
        f"{PROVIDERS * ROWS / seconds:,.0f} rows/s; imports per worker (lease owner): "
        f"{' + '.join(map(str, split)) or 'none observed'}",
        flush=True,
    )


def check_subscribers(phase: Phase, prefix: str, results: list[Result]) -> None:
    for index, (job, _, events) in enumerate(results):
        where = f"{prefix}, import {index + 1}"
        if job["totalRows"] != ROWS:
            phase.problems.append(f"{where}: the upload counted {job['totalRows']} rows")
            phase.counts_ok = False
        if not events or events[-1]["status"] != "COMPLETED":
            phase.problems.append(f"{where}: its subscriber saw no COMPLETED event")
            phase.subscribers_ok = False
            continue
        if not any(0 < e["processedRows"] < e["totalRows"] for e in events):
            phase.problems.append(f"{where}: its subscriber saw no progress before the end")
            phase.subscribers_ok = False
        processed = [e["processedRows"] for e in events]
        if processed != sorted(processed):
            phase.problems.append(f"{where}: progress went backwards")
            phase.subscribers_ok = False


async def check_counts(
    phase: Phase,
    prefix: str,
    api1: str,
    tokens: list[str],
    database_url: str,
    results: list[Result],
) -> None:
    expected = {
        "processedRows": ROWS,
        "totalRows": ROWS,
        "createdCount": ROWS,
        "linkedCount": 0,
        "errorCount": 0,
        "duplicateCount": 0,
    }
    for index, (_, _, events) in enumerate(results):
        last = events[-1] if events else {}
        wrong = {k: last.get(k) for k, v in expected.items() if last.get(k) != v}
        if wrong:
            phase.problems.append(f"{prefix}, import {index + 1}: final counts {wrong}")
            phase.counts_ok = False
    for index, token in enumerate(tokens):
        total = (await gql(api1, COUNT, token=token))["clients"]["totalCount"]
        if total != ROWS:
            phase.problems.append(f"{prefix}, provider {index + 1}: clients.totalCount {total}")
            phase.counts_ok = False
    ids = [job["id"] for job, _, _ in results]
    conn = await asyncpg.connect(database_url)
    try:
        on_lists, distinct = await conn.fetchrow(
            "SELECT count(*), count(DISTINCT client_id) FROM provider_clients WHERE provider_id "
            "IN (SELECT provider_id FROM client_imports WHERE id = ANY($1::uuid[]))",
            ids,
        )
        created = await conn.fetchval(
            "SELECT sum(created_count) FROM client_imports WHERE id = ANY($1::uuid[])", ids
        )
    finally:
        await conn.close()
    want = PROVIDERS * ROWS
    for name, value in (
        ("rows on the providers' lists", on_lists),
        ("distinct clients on them", distinct),
        ("sum of created_count", created),
    ):
        if value != want:
            phase.problems.append(f"{prefix}, database: {name} {value}, expected {want}")
            phase.counts_ok = False


async def check_database_totals(phase: Phase, database_url: str) -> None:
    """The phase's own database holds exactly the clients its imports created, no more."""
    conn = await asyncpg.connect(database_url)
    try:
        clients = await conn.fetchval("SELECT count(*) FROM clients")
        on_lists = await conn.fetchval("SELECT count(*) FROM provider_clients")
    finally:
        await conn.close()
    want = PROVIDERS * ROWS * ROUNDS
    if clients != want or on_lists != want:
        phase.problems.append(
            f"database: {clients} clients, {on_lists} list entries, expected {want} each"
        )
        phase.counts_ok = False


def attribute(phase: Phase, prefix: str, owners: dict[str, set[str]], ids: list[str]) -> list[int]:
    """Imports per lease owner in this round (each worker process has its own owner id)."""
    split: dict[str, int] = {}
    for index, import_id in enumerate(ids):
        seen = owners.get(import_id, set())
        if len(seen) != 1:
            what = f"held by {len(seen)} workers in turn" if seen else "no lease owner observed"
            phase.problems.append(f"{prefix}, import {index + 1}: {what}")
            continue
        owner = next(iter(seen))
        split[owner] = split.get(owner, 0) + 1
        phase.imports_by_owner[owner] = phase.imports_by_owner.get(owner, 0) + 1
    counts = sorted(split.values(), reverse=True)
    phase.splits.append(counts)
    return counts


async def check_cross_process_messages(api1: str, api2: str, redis_url: str) -> dict[str, str]:
    """A message accepted by one API process reaches a subscriber on the other, both ways."""
    outcome: dict[str, str] = {}
    provider_token = await sign_up(api1)
    provider = (await gql(api1, ME, token=provider_token))["me"]
    email = f"scale-{uuid.uuid4().hex[:10]}@example.com"
    signed = (
        await gql(
            api1,
            SIGN_UP_CLIENT,
            {
                "i": {
                    "email": email,
                    "password": PASSWORD,
                    "firstName": "Cleo",
                    "lastName": "Client",
                }
            },
        )
    )["signUpClient"]
    if signed["__typename"] != "AuthSuccess":
        raise RuntimeError(f"client sign-up refused: {signed['__typename']}")
    client_token = signed["token"]
    client = (await gql(api1, ME, token=client_token))["me"]

    async def one_way(
        label: str,
        listen_on: str,
        listener: str,
        listener_id: str,
        send_on: str,
        sender: str,
        **target: str,
    ) -> None:
        try:
            async with subscribe(listen_on, listener, RECEIVED) as feed:
                await listening(redis_url, listener_id)
                started = time.perf_counter()
                sent = (await gql(send_on, SEND, {"i": {"body": "scale check", **target}}, sender))[
                    "sendMessage"
                ]
                if sent["__typename"] != "MessageSuccess":
                    outcome[label] = f"no: send refused ({sent['__typename']})"
                    return
                event = (await feed.next(timeout=5.0))["messageReceived"]
                elapsed = (time.perf_counter() - started) * 1000
                if event["id"] != sent["message"]["id"]:
                    outcome[label] = "no: another message arrived"
                else:
                    outcome[label] = f"yes, {elapsed:.0f} ms after the send"
        except (TimeoutError, RuntimeError, OSError) as error:
            outcome[label] = f"no: {type(error).__name__}"

    await one_way(
        "client sends via API #1 -> provider subscribed on API #2",
        api2,
        provider_token,
        provider["id"],
        api1,
        client_token,
        providerId=provider["provider"]["id"],
    )
    await one_way(
        "provider sends via API #2 -> client subscribed on API #1",
        api1,
        client_token,
        client["id"],
        api2,
        provider_token,
        clientId=client["client"]["id"],
    )
    return outcome


# --- report ---------------------------------------------------------------------------------


def report(phases: list[Phase], messages: dict[str, str]) -> bool:
    one = phases[0]
    print()
    print(
        f"Scale check: {PROVIDERS} providers at once, each importing a {ROWS:,}-row CSV through "
        f"API #1 and following its progress over WebSocket on API #2; {ROUNDS} rounds per run."
    )
    print(
        "PostgreSQL + Redis, 2 API processes, a fresh database per run; sendInvitations=false "
        f"(throughput of the import itself); {os.cpu_count()} CPU cores shared by everything."
    )
    print("Seconds per round: first upload answer -> last COMPLETED event seen by a subscriber.")
    print()
    header = (
        f"{'run':<12} {'workers':>7} {'rows':>9} {'seconds':>8} {'rows/s':>8} {'ratio':>6}  "
        f"{'rounds (rows/s)':<24} {'subscribers':<11} {'counts exact':<12} "
        "imports per worker, by round"
    )
    print(header)
    print("-" * len(header))
    for phase in phases:
        rounds = "/".join(f"{PROVIDERS * ROWS / s / 1000:.1f}k" for s in phase.round_seconds)
        splits = "  ".join("+".join(map(str, split)) or "?" for split in phase.splits)
        label = "one worker" if phase.workers == 1 else "two workers"
        print(
            f"{label:<12} {phase.workers:>7} {phase.rows:>9,} {phase.seconds:>8.1f} "
            f"{phase.rows_per_s:>8,.0f} {phase.rows_per_s / one.rows_per_s:>6.2f}  "
            f"{rounds or '-':<24} {'yes' if phase.subscribers_ok else 'NO':<11} "
            f"{'yes' if phase.counts_ok else 'NO':<12} {splits or '-'}"
        )
    print()
    for phase in phases:
        cpu = ", ".join(f"{name} {value:.1f}" for name, value in phase.cpu.items())
        print(f"CPU seconds while timed, {phase.workers} worker(s): {cpu or '-'}")
    print()
    if len(phases) > 1:
        two = phases[1]
        print(f"rows/s, two workers / one worker: {two.rows_per_s / one.rows_per_s:.2f}")
        took_part = ", ".join(f"{n} imports" for n in sorted(two.imports_by_owner.values()))
        print(
            "both workers took part (distinct lease owners over the two-worker rounds): "
            f"{'yes' if two.all_workers_took_part else 'NO'} ({took_part or 'none observed'})"
        )
    for label, result in messages.items():
        print(f"message across API processes, {label}: {result}")
    problems = [f"{p.workers} worker(s): {text}" for p in phases for text in p.problems]
    problems += [
        f"{p.workers} worker(s): {len(p.imports_by_owner)} worker processes ran imports"
        for p in phases
        if not p.all_workers_took_part
    ]
    if not messages:
        problems.append("messaging: not checked")
    problems += [f"messaging: {k}: {v}" for k, v in messages.items() if not v.startswith("yes")]
    print()
    if problems:
        print("FAILED:")
        for problem in problems:
            print(f"  - {problem}")
        return False
    print("scale check passed: every subscriber saw progress and completion, every count is exact")
    return True


async def main() -> int:
    phases = [Phase(workers=1), Phase(workers=2)]
    messages: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis() as redis:
        os.chmod(tmp, 0o755)  # the postgres user must reach its data directory inside
        pg_dir = Path(tmp) / "pg"
        admin_url = start_postgres(pg_dir)
        shared: dict[str, tuple[int, bool]] = {}
        if (postmaster := postmaster_pid(pg_dir)) is not None:
            shared["PostgreSQL"] = (postmaster, True)
        if redis.pid is not None:
            shared["Redis"] = (redis.pid, False)
        try:
            for number, phase in enumerate(phases, start=1):
                print(f"run {number}: {phase.workers} worker process(es)", flush=True)
                last = number == len(phases)
                try:
                    database_url = await fresh_database(admin_url, f"scale_{phase.workers}")
                    data_dir = Path(tmp) / f"data{number}"
                    data_dir.mkdir()
                    redis_url = redis.url.rsplit("/", 1)[0] + f"/{number}"  # a queue per run
                    messages = await run_phase(
                        phase, database_url, redis_url, data_dir, shared, check_messages=last
                    )
                except Exception as error:  # noqa: BLE001 - reported with the other checks
                    phase.problems.append(f"the run stopped: {type(error).__name__}: {error}")
        finally:
            stop_postgres(pg_dir)
    return 0 if report(phases, messages) else 1


if __name__ == "__main__":
    started = time.perf_counter()
    code = asyncio.run(main())
    print(f"bench/scale_check.py finished in {time.perf_counter() - started:.0f} s")
    sys.exit(code)
