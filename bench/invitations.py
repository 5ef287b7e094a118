"""Benchmark: invitation e-mails per second for one import, file backend and SMTP (aiosmtpd).

"before" is the per-message delivery this branch started from (workers/outbox.py at
BENCH_BEFORE_REF, default the merge base with main: a claim, a render, a connection and a
commit per e-mail); "after" is the batched delivery of this tree; "floor" is the raw floor
measured in the same run (render + write an .eml with the email package; aiosmtplib over one
reused connection), and the target is after >= 0.7 of it. "after, 500,000 existing" runs the
same import on a database that already holds EXISTING clients (each with its list entry,
invitation token and sent invitation, seeded with bulk SQL once and copied for each run): the
cost per e-mail should stay within 10% of the empty database's; the runs interleave (each
order as often, BENCH_INVITE_REPEATS of each, default 4) and print the median and spread. Each figure runs on a fresh SQLite database holding one
import of N rows, in this process, with a real embedded Redis. Usage:

    .venv/bin/python bench/invitations.py [N_AFTER] [N_BEFORE] [EXISTING]
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
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


class RenderOnly:
    """A transport that builds each message's bytes and writes them nowhere: the worker's
    own work per e-mail (database, tokens, rendering), without the filesystem's."""

    replaces_repeats = True  # as the file backend it stands for: no marks

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, mail: Any) -> None:
        from caseload.mail import build_message

        bytes(build_message(self.settings, mail))

    def session(self) -> Any:
        from caseload.mail import _EachOnItsOwn

        return _EachOnItsOwn(self)

    async def close(self) -> None:
        return None


# CPU ms per e-mail of the last measure() (this process: the worker's code and its SQLite
# thread), which a busy machine inflates less than the wall-clock rate.
COST = [0.0]


async def _floor(backend: str, count: int, directory: Path) -> float:
    from bench.floors import eml_floor, smtp_floor

    if backend == "file":
        return eml_floor(count, directory / "floor-mail")
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        return await smtp_floor(count, port)
    finally:
        controller.stop()


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
    sys.modules[module.__name__] = module  # its dataclasses look their module up
    exec(compile(source, f"{ref}:workers/outbox.py", "exec"), module.__dict__)
    return module


async def _import(_settings: Settings, services: Any, rows: int) -> list[Any]:
    from models import ClientImport, ClientImportFileChunk, OutboxMessage
    from resolvers.accounts.authentication import ProviderSignUp, sign_up_provider
    from resolvers.imports.runner import run_import
    from tests.support import PASSWORD

    issued = await sign_up_provider(
        services, ProviderSignUp(email="bench@example.com", password=PASSWORD, display_name="B")
    )
    provider = await issued.user.provider
    job = await ClientImport.create(provider=provider, file_name="bench.csv", format="CSV")
    await ClientImportFileChunk.create(client_import=job, seq=0, data=make_csv(rows))
    assert await run_import(services, job.id, "bench") == "COMPLETED"
    return list(
        await OutboxMessage.filter(kind="email.invitation", import_id=job.id)
        .order_by("id")
        .values_list("id", flat=True)
    )


def seed_existing(database: Path, count: int) -> None:
    """`count` clients of another provider as a finished campaign leaves them: the entry, its
    profile, its invitation token and its sent invitation; plain executemany, no API."""
    import sqlite3
    from datetime import UTC, datetime, timedelta

    from resolvers.bulk_sql import new_ids

    now = datetime.now(UTC).isoformat(" ")
    later = (datetime.now(UTC) + timedelta(days=7)).isoformat(" ")
    user_id, provider_id = new_ids(2)
    db = sqlite3.connect(database)
    with db:
        db.execute(
            "INSERT INTO users (id, email, role, created_at) VALUES (?, ?, 'PROVIDER', ?)",
            (user_id, "seed-provider@bench-seed.org", now),
        )
        db.execute(
            "INSERT INTO providers (id, display_name, created_at, user_id) VALUES (?, ?, ?, ?)",
            (provider_id, "Dr Seed", now, user_id),
        )
        for start in range(0, count, 50_000):
            n = min(50_000, count - start)
            ids = new_ids(4 * n)
            clients, links, tokens, outbox = [], [], [], []
            for i in range(n):
                client_id, link_id, token_id, outbox_id = ids[4 * i : 4 * i + 4]
                k = start + i
                sort = f"last{k:07d} first{k % 997}"
                clients.append((client_id, f"First{k % 997}", f"Last{k:07d}", sort, sort, now))
                links.append((link_id, client_id, provider_id, f"c{k}@bench-seed.org", now, sort))
                tokens.append((token_id, f"{k:064x}", now, later, link_id))
                outbox.append((outbox_id, f'{{"record_id": "{link_id}"}}', link_id, now))
            db.executemany(
                "INSERT INTO clients (id, legal_first_name, legal_last_name, search_text, "
                "sort_name, reminders_sent, created_at, updated_at, invited_at) "
                "VALUES (?, ?, ?, ?, ?, 0, ?6, ?6, ?6)",
                clients,
            )
            db.executemany(
                "INSERT INTO provider_clients (id, added_via, added_at, client_id, provider_id, "
                "email, invitation_queued_at, invitation_sent_at, sort_name) "
                "VALUES (?1, 'IMPORT', ?5, ?2, ?3, ?4, ?5, ?5, ?6)",
                links,
            )
            db.executemany(
                "INSERT INTO verification_tokens (id, purpose, token_hash, created_at, "
                "expires_at, record_id) VALUES (?, 'INVITATION', ?, ?, ?, ?)",
                tokens,
            )
            db.executemany(
                "INSERT INTO outbox_messages (id, kind, payload, subject_id, status, attempts, "
                "created_at, available_at, sent_at) "
                "VALUES (?1, 'email.invitation', ?2, ?3, 'SENT', 0, ?4, ?4, ?4)",
                outbox,
            )
    db.execute("ANALYZE")
    db.close()
    # the seed's hundreds of MB of dirty pages are written back now, not while the e-mails'
    # files are created (that writeback, not the delivery, is what a 500,000-row seed slows)
    os.sync()


async def measure(
    redis_url: str,
    backend: str,
    rows: int,
    variant: str,
    existing: int = 0,
    *,
    write: bool = True,
    seeded: Path | None = None,
) -> float:
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
        if seeded is not None:  # a copy of a database migrated (and seeded) once for all runs
            settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(seeded, settings.sqlite_path)
            os.sync()  # the copy's pages are on disk before the clock starts, as the seed's
        else:
            await apply_migrations(settings)
            if existing:
                seed_existing(settings.sqlite_path, existing)
        await init_db(settings)
        redis = await connect(redis_url)
        try:
            await redis.flushall()
            services = make_services(settings, redis)
            ids = await _import(settings, services, rows)
            transport = make_transport(settings) if write else RenderOnly(settings)
            started, cpu = time.perf_counter(), time.process_time()
            if variant == "after":
                await deliver_many(services, transport, ids, SentMarks(redis))
            else:
                old = _old_outbox()
                for message_id in ids:
                    await old.deliver(services, transport, message_id)
            took = time.perf_counter() - started
            COST[0] = (time.process_time() - cpu) / rows * 1000
            from models import OutboxMessage, OutboxStatus

            sent = await OutboxMessage.filter(
                kind="email.invitation", status=OutboxStatus.SENT
            ).count()
            if existing:
                assert await _seeded_untouched(existing)
            assert sent - existing == len(ids) == rows, (sent, len(ids), rows)
            if backend == "smtp":
                assert sink.count == rows, sink.count
            elif write:
                assert len(list(settings.mail_dir.glob("*.eml"))) >= rows
        finally:
            await redis.aclose()
            await close_db()
            if controller is not None:
                controller.stop()
    return rows / took


async def _seeded_untouched(existing: int) -> bool:
    """The seeded campaign's rows are as seeded: the import's delivery touched none of them."""
    from models import OutboxMessage

    return await OutboxMessage.filter(import_id=None, kind="email.invitation").count() == existing


REPEATS = int(os.environ.get("BENCH_INVITE_REPEATS", "4"))


async def _seeded(directory: Path, count: int) -> Path:
    """A database migrated and seeded with `count` clients once; each run takes a copy."""
    settings = Settings(data_dir=directory, secret_key="bench")
    await apply_migrations(settings)
    if count:
        seed_existing(settings.sqlite_path, count)
    return settings.sqlite_path


def _spread(values: list[float]) -> str:
    return f"[{min(values):.2f}..{max(values):.2f}]"


async def main() -> None:
    after_rows = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    before_rows = int(sys.argv[2]) if len(sys.argv) > 2 else 2_000
    load = os.getloadavg()
    print(
        f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs"
    )
    existing = int(sys.argv[3]) if len(sys.argv) > 3 else 500_000
    with EmbeddedRedis() as redis, tempfile.TemporaryDirectory() as tmp:
        for backend in ("file", "smtp"):
            before = await measure(redis.url, backend, before_rows, "before")
            after = await measure(redis.url, backend, after_rows, "after")
            floor = await _floor(backend, after_rows, Path(tmp))
            print(
                f"{backend:5} before ({before_rows:,} e-mails): {before:7.1f}/s   "
                f"after ({after_rows:,} e-mails): {after:7.1f}/s   ratio {after / before:4.1f}x"
            )
            print(
                f"{backend:5} floor in the same run: {floor:7.1f}/s   after / floor "
                f"{after / floor:4.2f} (target >= 0.70)"
            )
        seeded = {
            count: await _seeded(Path(tmp) / f"seed-{count}", count) for count in (0, existing)
        }
        for write in (True, False):
            costs: dict[int, list[float]] = {0: [], existing: []}
            for k in range(REPEATS):  # interleaved, each order as often
                for count in (0, existing) if k % 2 == 0 else (existing, 0):
                    await measure(
                        redis.url,
                        "file",
                        after_rows,
                        "after",
                        count,
                        write=write,
                        seeded=seeded[count],
                    )
                    costs[count].append(COST[0])
            empty, full = statistics.median(costs[0]), statistics.median(costs[existing])
            what = "written as .eml" if write else "rendered, not written"
            print(
                f"file  CPU per e-mail ({what}, median of {REPEATS}), empty database: "
                f"{empty:.2f} ms {_spread(costs[0])}; with {existing:,} clients already in it: "
                f"{full:.2f} ms {_spread(costs[existing])}   ratio {full / empty:4.2f} "
                "(target <= 1.10)"
            )
    load = os.getloadavg()
    print(f"load average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
