"""Benchmark: clients(first: 50) over GraphQL against two floors measured in the same run.

5,000 clients on one list (a third accepted, the rest as an import leaves them), SQLite, one
uvicorn process per server on loopback: the same rows as plain Starlette JSON, and a minimal
Strawberry app returning the same 50 clients pre-built; prints requests/s, p50, p99 and the
ratios (targets: >= 0.5 of the minimal Strawberry app, >= 0.8 of plain JSON).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.loadgen import run_load  # noqa: E402
from bench.stack import machine_load  # noqa: E402
from caseload.db import apply_migrations, close_db, init_db  # noqa: E402
from caseload.embedded_redis import EmbeddedRedis, free_port  # noqa: E402
from caseload.settings import Settings  # noqa: E402

PLAIN = "plain Starlette JSON"
MINIMAL = "minimal Strawberry app"
CASELOAD = "Caseload clients(first: 50)"
CLIENTS = 5_000
SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
CONCURRENCY = 16
QUERY = """{ clients(first: 50) { edges { cursor node {
  id displayName email emailVerified mobilePhone addedAt addedVia archived
  onboarding { emailVerified insuranceAdded billingAdded formsAcknowledged missingSteps complete }
  insurance { carrier memberId } billingMethod { brand last4 } } } pageInfo { hasNextPage endCursor } } }"""


async def seed(settings: Settings) -> tuple[str, str]:
    """A provider with CLIENTS clients (a third with insurance); returns (provider id, token)."""
    from tortoise.transactions import in_transaction

    from models import Client, ProviderClient, User
    from resolvers.accounts.authentication import ProviderSignUp, sign_up_provider
    from resolvers.bulk_sql import insert_rows
    from resolvers.names import search_fields
    from tests.support import PASSWORD  # one password policy for tests and bench

    await apply_migrations(settings)
    await init_db(settings)

    class Quiet:
        async def enqueue(self, *a: object, **k: object) -> bool:
            return True

        async def publish(self, *a: object, **k: object) -> None:
            return None

        async def hit(self, *a: object, **k: object) -> bool:
            return True

    from resolvers.ports import Services

    services = Services(settings=settings, queue=Quiet(), events=Quiet(), limiter=Quiet())  # type: ignore[arg-type]
    issued = await sign_up_provider(
        services,
        ProviderSignUp(email="bench@example.com", password=PASSWORD, display_name="Dr Bench"),
    )
    provider = await issued.user.provider
    now = datetime.now(UTC)
    users, clients, links = [], [], []
    for i in range(CLIENTS):
        client_id = uuid4()
        email = f"client{i}@example.org"
        first, last = f"First{i % 97}", f"Last{i:05d}"
        # a third accepted their invitation (the person's own profile, with an account);
        # the rest are entries as an import leaves them (the entry's own profile, no account)
        accepted = i % 3 == 0
        user_id = uuid4() if accepted else None
        if user_id is not None:
            users.append([user_id, email, "CLIENT", now, now])
        insured = i % 2 == 0
        derived = search_fields(first, last, None, email)
        clients.append(
            [
                client_id,
                user_id,
                first,
                last,
                derived["search_text"],
                derived["sort_name"],
                "+12125550100",
                "Aetna" if insured else None,
                f"M{i}" if insured else None,
                0,
                now,
                now,
            ]
        )
        links.append(
            [
                uuid4(),
                provider.id,
                client_id,
                email,
                "IMPORT",
                now,
                now if accepted else None,
                derived["sort_name"],
            ]
        )
    async with in_transaction() as conn:
        await insert_rows(
            conn, User, ["id", "email", "role", "created_at", "email_verified_at"], users
        )
        await insert_rows(
            conn,
            Client,
            [
                "id",
                "user_id",
                "legal_first_name",
                "legal_last_name",
                "search_text",
                "sort_name",
                "mobile_phone",
                "insurance_carrier",
                "insurance_member_id",
                "reminders_sent",
                "created_at",
                "updated_at",
            ],
            clients,
        )
        await insert_rows(
            conn,
            ProviderClient,
            [
                "id",
                "provider_id",
                "client_id",
                "email",
                "added_via",
                "added_at",
                "accepted_at",
                "sort_name",
            ],
            links,
        )
    await close_db()
    return str(provider.id), issued.token


def serve(
    app: str, port: int, env: dict[str, str], factory: bool = False
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--no-proxy-headers",
    ]
    if factory:
        command.append("--factory")
    return subprocess.Popen(command, cwd=ROOT, env=env)


async def wait_up(url: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            try:
                await client.get(url)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not start")


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis() as redis:
        data_dir = Path(tmp)
        settings = Settings(data_dir=data_dir, redis_url=redis.url, session_idle_seconds=3600)
        provider_id, token = await seed(settings)
        env = dict(os.environ)
        env.update(
            {
                "CASELOAD_DATA_DIR": str(data_dir),
                "CASELOAD_REDIS_URL": redis.url,
                "CASELOAD_SESSION_IDLE_SECONDS": "3600",
                "BENCH_SQLITE_PATH": str(settings.sqlite_path),
                "BENCH_PROVIDER_ID": provider_id,
                "PYTHONPATH": str(ROOT),
            }
        )
        results = {}
        for label, app, path, factory in (
            (PLAIN, "bench.plain_app:app", "/clients", False),
            (MINIMAL, "bench.strawberry_app:app", "/graphql", False),
            (CASELOAD, "caseload.app:create_app", "/graphql", True),
        ):
            port = free_port()
            process = serve(app, port, env, factory)
            try:
                url = f"http://127.0.0.1:{port}{path}"
                await wait_up(f"http://127.0.0.1:{port}/healthz" if factory else url)
                if path == "/graphql":

                    def ok(response: httpx.Response) -> bool:
                        body = response.json()
                        return "errors" not in body and len(body["data"]["clients"]["edges"]) == 50

                    results[label] = await run_load(
                        "POST",
                        url,
                        seconds=SECONDS,
                        concurrency=CONCURRENCY,
                        json={"query": QUERY},
                        headers={
                            "authorization": f"Bearer {token}",
                            "content-type": "application/json",
                        },
                        check=ok,
                    )
                else:
                    results[label] = await run_load(
                        "GET",
                        url,
                        seconds=SECONDS,
                        concurrency=CONCURRENCY,
                        check=lambda r: len(r.json()["clients"]) == 50,
                    )
            finally:
                process.terminate()
                process.wait(10)
        print(
            f"\nclients(first: 50) with onboarding fields on a list of {CLIENTS:,} clients, SQLite, "
            f"one uvicorn process per server, {CONCURRENCY} concurrent loops for {SECONDS:.0f} s each"
        )
        print(f"machine load: {machine_load()}")
        for label, result in results.items():
            print(result.line(label))
        caseload = results[CASELOAD].rps
        print(
            f"ratio Caseload / minimal Strawberry app: {caseload / results[MINIMAL].rps:.2f} "
            "(target >= 0.50)"
        )
        print(
            f"ratio Caseload / plain Starlette JSON:   {caseload / results[PLAIN].rps:.2f} "
            "(target >= 0.80 as the issue words it)"
        )


if __name__ == "__main__":
    started = time.perf_counter()
    asyncio.run(main())
    print(f"bench/list_clients.py finished in {time.perf_counter() - started:.0f} s")
