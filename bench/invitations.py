"""Benchmark: invitation e-mails per second for one import, file backend and SMTP (aiosmtpd).

"before" is the per-message delivery this branch started from (workers/outbox.py at
BENCH_BEFORE_REF, default the merge base with main: a claim, a render, a connection and a
commit per e-mail); "after" is the batched
delivery of this tree. Each figure runs on a fresh SQLite database holding one import of N
rows, in this process, with a real embedded Redis. Usage:

    .venv/bin/python bench/invitations.py [N_AFTER] [N_BEFORE]
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402

from bench.datagen import make_csv  # noqa: E402
from caseload.db import apply_migrations, close_db, init_db  # noqa: E402
from caseload.embedded_redis import EmbeddedRedis, free_port  # noqa: E402
from caseload.mail import make_transport  # noqa: E402
from caseload.redis import connect, make_services  # noqa: E402
from caseload.settings import EmailBackend, Settings  # noqa: E402


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: ARG002
        self.count += 1
        return "250 OK"


def _old_outbox() -> types.ModuleType:
    ref = (
        os.environ.get("BENCH_BEFORE_REF")
        or subprocess.run(
            ["git", "merge-base", "HEAD", "main"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    source = subprocess.run(
        ["git", "show", f"{ref}:workers/outbox.py"], cwd=ROOT, check=True, capture_output=True
    ).stdout.decode()
    module = types.ModuleType("outbox_before")
    exec(compile(source, f"{ref}:workers/outbox.py", "exec"), module.__dict__)
    return module


async def _import(_settings: Settings, services: Any, rows: int) -> list[Any]:
    from models import ClientImport, ClientImportFileChunk, OutboxMessage
    from resolvers.accounts import ProviderSignUp, sign_up_provider
    from resolvers.import_runner import run_import
    from tests.support import PASSWORD

    issued = await sign_up_provider(
        services, ProviderSignUp(email="bench@example.com", password=PASSWORD, display_name="B")
    )
    provider = await issued.user.provider
    job = await ClientImport.create(provider=provider, file_name="bench.csv", format="CSV")
    await ClientImportFileChunk.create(client_import=job, seq=0, data=make_csv(rows))
    assert await run_import(services, job.id, "bench") == "COMPLETED"
    return list(
        await OutboxMessage.filter(kind="email.invitation")
        .order_by("id")
        .values_list("id", flat=True)
    )


async def measure(redis_url: str, backend: str, rows: int, variant: str) -> float:
    from workers.outbox import SentMarks, deliver_many

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), redis_url=redis_url, secret_key="bench")
        sink = Sink()
        controller = None
        if backend == "smtp":
            port = free_port()
            controller = Controller(sink, hostname="127.0.0.1", port=port)
            controller.start()
            settings = settings.model_copy(
                update={
                    "email_backend": EmailBackend.SMTP,
                    "smtp_host": "127.0.0.1",
                    "smtp_port": port,
                }
            )
        await apply_migrations(settings)
        await init_db(settings)
        redis = await connect(redis_url)
        try:
            await redis.flushall()
            services = make_services(settings, redis)
            ids = await _import(settings, services, rows)
            transport = make_transport(settings)
            started = time.perf_counter()
            if variant == "after":
                await deliver_many(services, transport, ids, SentMarks(redis))
            else:
                old = _old_outbox()
                for message_id in ids:
                    await old.deliver(services, transport, message_id)
            took = time.perf_counter() - started
            from models import OutboxMessage, OutboxStatus

            sent = await OutboxMessage.filter(
                kind="email.invitation", status=OutboxStatus.SENT
            ).count()
            assert sent == len(ids) == rows, (sent, len(ids), rows)
            if backend == "smtp":
                assert sink.count == rows, sink.count
            else:
                assert len(list(settings.mail_dir.glob("*.eml"))) >= rows
        finally:
            await redis.aclose()
            await close_db()
            if controller is not None:
                controller.stop()
    return rows / took


async def main() -> None:
    after_rows = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    before_rows = int(sys.argv[2]) if len(sys.argv) > 2 else 2_000
    load = os.getloadavg()
    print(
        f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs"
    )
    with EmbeddedRedis() as redis:
        for backend in ("file", "smtp"):
            before = await measure(redis.url, backend, before_rows, "before")
            after = await measure(redis.url, backend, after_rows, "after")
            print(
                f"{backend:5} before ({before_rows:,} e-mails): {before:7.1f}/s   "
                f"after ({after_rows:,} e-mails): {after:7.1f}/s   ratio {after / before:4.1f}x"
            )
    load = os.getloadavg()
    print(f"load average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
