"""Migrations keep data: an import stored before 0005 keeps its file and issues afterwards."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

pytestmark = pytest.mark.slow


ROOT = Path(__file__).resolve().parents[1]

# Runs in its own process: migrating another database must not touch this process's Tortoise.
MIGRATE_TO = """
import asyncio, sys
from tortoise import Tortoise
from tortoise.migrations.api import migrate
from caseload.db import tortoise_config

async def main():
    try:
        config = tortoise_config(sys.argv[1])
        await migrate(config=config, app_labels=["models"], target=sys.argv[2])
    finally:
        await Tortoise.close_connections()

asyncio.run(main())
"""


def _migrate(url: str, target: str | None = None) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASELOAD_")}
    if target is None:
        command = [sys.executable, "-m", "caseload.cli", "migrate"]
        env["CASELOAD_DATABASE_URL"] = url
    else:
        command = [sys.executable, "-c", MIGRATE_TO, url, target]
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=60)


def test_import_files_move_to_their_own_table(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    url = f"sqlite://{path}"
    _migrate(url, "models.0004_client_import_file_plan")
    user_id, provider_id, import_id = (str(uuid.uuid4()) for _ in range(3))
    data = b"First Name,Last Name,Email\r\nAva,Nguyen,ava@example.org\r\n"
    with sqlite3.connect(path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(client_imports)")}
        assert "file_data" in columns
        db.execute(
            "INSERT INTO users (id, email, role, created_at) VALUES (?, ?, 'PROVIDER', '2026-01-01')",
            (user_id, "dr@example.org"),
        )
        db.execute(
            "INSERT INTO providers (id, user_id, display_name, created_at) "
            "VALUES (?, ?, 'Dr', '2026-01-01')",
            (provider_id, user_id),
        )
        db.execute(
            "INSERT INTO client_imports (id, provider_id, file_name, file_data, format, status,"
            " dry_run, send_invitations, explicit_mapping, column_mapping, ignored_columns,"
            " processed_rows, created_count, linked_count, already_in_list_count,"
            " duplicate_count, error_count, warning_count, cancel_requested, created_at)"
            " VALUES (?, ?, 'old.csv', ?, 'CSV', 'FAILED', 0, 1, '{}', '[]', '[]',"
            " 0, 0, 0, 0, 0, 0, 0, 0, '2026-01-01')",
            (import_id, provider_id, data),
        )
        db.execute(
            "INSERT INTO client_import_issues (client_import_id, row, code, message, severity)"
            " VALUES (?, 2, 'INVALID_EMAIL', 'No e-mail.', 'ERROR')",
            (import_id,),
        )
    _migrate(url)
    with sqlite3.connect(path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(client_imports)")}
        # 0005 moved it to client_import_files, 0010 on into pieces (one, for an old file)
        stored = db.execute(
            "SELECT client_import_id, seq, data FROM client_import_file_chunks"
        ).fetchall()
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        issues = db.execute("SELECT client_import_id, row FROM client_import_issues").fetchall()
    assert "file_data" not in columns
    assert stored == [(import_id, 0, data)]
    assert "client_import_files" not in tables
    assert issues == [(import_id, 2)]  # rebuilding the table would have cascaded them away


# ---- 0006: shared client rows become consent-based list entries --------------------------

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 1, 2, tzinfo=UTC)


class _Raw:
    """The same statements on SQLite (sqlite3) and PostgreSQL (asyncpg), placeholders as `?`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.postgres = url.startswith("postgres")
        self.conn: Any = None

    async def __aenter__(self) -> _Raw:
        if self.postgres:
            self.conn = await asyncpg.connect(self.url)
        else:
            self.conn = sqlite3.connect(self.url.removeprefix("sqlite://"))
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.postgres:
            await self.conn.close()
        else:
            self.conn.commit()
            self.conn.close()

    def _sql(self, text: str) -> str:
        if not self.postgres:
            return text
        parts = text.split("?")
        return "".join(p + (f"${i + 1}" if i < len(parts) - 1 else "") for i, p in enumerate(parts))

    def _arg(self, value: Any) -> Any:
        if isinstance(value, uuid.UUID):
            return value if self.postgres else str(value)
        if isinstance(value, datetime) and not self.postgres:
            return str(value)
        return value

    async def run(self, text: str, *args: Any) -> None:
        values = [self._arg(a) for a in args]
        if self.postgres:
            await self.conn.execute(self._sql(text), *values)
        else:
            self.conn.execute(text, values)

    async def rows(self, text: str, *args: Any) -> list[tuple[Any, ...]]:
        values = [self._arg(a) for a in args]
        if self.postgres:
            return [tuple(r) for r in await self.conn.fetch(self._sql(text), *values)]
        return list(self.conn.execute(text, values).fetchall())


@pytest.fixture(
    params=["sqlite", "postgres"] if os.environ.get("CASELOAD_TEST_DATABASE_URL") else ["sqlite"]
)
async def old_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of this run's engine, for migrating step by step."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'old.sqlite3'}"
        return
    server = os.environ["CASELOAD_TEST_DATABASE_URL"]
    name = f"migration_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base, _, _ = server.rpartition("/")
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _person(
    db: _Raw, email: str, *, password: bool, verified: bool
) -> tuple[uuid.UUID, uuid.UUID]:
    user_id, client_id = uuid.uuid4(), uuid.uuid4()
    await db.run(
        "INSERT INTO users (id, email, password_hash, role, email_verified_at, created_at)"
        " VALUES (?, ?, ?, 'CLIENT', ?, ?)",
        user_id,
        email,
        "$argon2id$x" if password else None,
        T1 if verified else None,
        T0,
    )
    await db.run(
        "INSERT INTO clients (id, user_id, legal_first_name, legal_last_name, search_text,"
        " sort_name, mobile_phone, insurance_carrier, insurance_member_id, billing_processor,"
        " billing_token, invited_at, reminders_sent, created_at, updated_at)"
        " VALUES (?, ?, 'Una', 'Known', 'una known', 'known una', '+12125550100', 'Aetna', 'M1',"
        " ?, ?, ?, 0, ?, ?)",
        client_id,
        user_id,
        "test" if password else None,
        "tok_visa" if password else None,
        T0,
        T0,
        T0,
    )
    return user_id, client_id


async def _provider(db: _Raw, email: str) -> uuid.UUID:
    user_id, provider_id = uuid.uuid4(), uuid.uuid4()
    await db.run(
        "INSERT INTO users (id, email, password_hash, role, email_verified_at, created_at)"
        " VALUES (?, ?, '$argon2id$x', 'PROVIDER', ?, ?)",
        user_id,
        email,
        T0,
        T0,
    )
    await db.run(
        "INSERT INTO providers (id, user_id, display_name, created_at) VALUES (?, ?, 'Dr', ?)",
        provider_id,
        user_id,
        T0,
    )
    return provider_id


async def _link(db: _Raw, provider_id: uuid.UUID, client_id: uuid.UUID) -> uuid.UUID:
    link_id = uuid.uuid4()
    await db.run(
        "INSERT INTO provider_clients (id, provider_id, client_id, added_via, added_at)"
        " VALUES (?, ?, ?, 'MANUAL', ?)",
        link_id,
        provider_id,
        client_id,
        T0,
    )
    return link_id


async def test_client_rows_become_consent_based_entries(old_database: str) -> None:
    url = old_database
    _migrate(url, "models.0005_client_import_files")
    async with _Raw(url) as db:
        p1, p2 = await _provider(db, "p1@example.org"), await _provider(db, "p2@example.org")
        _, v_client = await _person(db, "v@example.org", password=True, verified=True)
        u_user, u_client = await _person(db, "u@example.org", password=False, verified=False)
        s_user, s_client = await _person(db, "s@example.org", password=True, verified=False)
        v1, v2 = await _link(db, p1, v_client), await _link(db, p2, v_client)
        u1, u2 = await _link(db, p1, u_client), await _link(db, p2, u_client)
        s1 = await _link(db, p1, s_client)
        appointment, thread = uuid.uuid4(), uuid.uuid4()
        await db.run(
            "INSERT INTO appointments (id, provider_id, client_id, starts_at, ends_at, status,"
            " created_at) VALUES (?, ?, ?, ?, ?, 'SCHEDULED', ?)",
            appointment,
            p2,
            u_client,
            T1,
            T1,
            T0,
        )
        await db.run(
            "INSERT INTO message_threads (id, provider_id, client_id, created_at, last_message_at)"
            " VALUES (?, ?, ?, ?, ?)",
            thread,
            p2,
            u_client,
            T0,
            T0,
        )
        await db.run(
            "INSERT INTO outbox_messages (id, kind, payload, subject_id, status, attempts,"
            " created_at, available_at) VALUES (?, 'email.invitation', ?, ?, 'PENDING', 0, ?, ?)",
            uuid.uuid4(),
            json.dumps({"user_id": str(u_user)}),
            u_user,
            T0,
            T0,
        )
    _migrate(url)
    async with _Raw(url) as db:
        links = {
            str(row[0]): row[1:]
            for row in await db.rows(
                "SELECT id, client_id, email, accepted_at FROM provider_clients"
            )
        }
        users = {str(r[0]) for r in await db.rows("SELECT id FROM users WHERE role = 'CLIENT'")}
        profiles = {
            str(r[0]): r[1:]
            for r in await db.rows(
                "SELECT id, user_id, legal_first_name, mobile_phone, insurance_member_id,"
                " billing_token FROM clients"
            )
        }
        moved = await db.rows("SELECT client_id FROM appointments")
        threads = await db.rows("SELECT client_id FROM message_threads")
        outbox = await db.rows("SELECT payload, status FROM outbox_messages ORDER BY status")

    def entry(link_id: uuid.UUID) -> tuple[str, str, Any]:
        client_id, email, accepted = links[str(link_id)]
        return str(client_id), email, accepted

    assert len(links) == 5  # not a row lost
    # a verified client's entries are accepted: both providers keep seeing her profile
    for link_id in (v1, v2):
        client_id, email, accepted = entry(link_id)
        assert (client_id, email) == (str(v_client), "v@example.org") and accepted is not None
    # an unverified client's entries keep what they show today, each its own copy
    u_entries = [entry(u1), entry(u2)]
    assert all(accepted is None and email == "u@example.org" for _, email, accepted in u_entries)
    assert sorted(e[0] == str(u_client) for e in u_entries) == [False, True]  # one keeps it
    for client_id, _, _ in u_entries:
        assert profiles[client_id] == (None, "Una", "+12125550100", "M1", None)
    assert str(u_user) not in users  # an account nobody ever opened is gone
    assert [str(r[0]) for r in moved] == [entry(u2)[0]]  # P2's appointment and thread
    assert [str(r[0]) for r in threads] == [entry(u2)[0]]  # stay with P2's entry
    # a client who signed up and never confirmed keeps her own profile, billing included
    s_entry = entry(s1)
    assert s_entry[0] != str(s_client) and s_entry[2] is None
    assert str(s_user) in users and profiles[str(s_client)][0] is not None
    assert profiles[s_entry[0]][3] == "M1" and profiles[s_entry[0]][4] is None  # no billing copy
    # the old invitation is cancelled and each entry not accepted gets a fresh one: links
    # sent before belonged to accounts and no longer accept anything
    statuses = sorted(str(r[1]) for r in outbox)
    assert statuses == ["CANCELLED", "PENDING", "PENDING", "PENDING"]
    payloads = [json.loads(r[0]) if isinstance(r[0], str) else r[0] for r in outbox]
    queued = {p["record_id"] for p in payloads if "record_id" in p}
    assert queued == {str(u1), str(u2), str(s1)}


async def _index_names(db: _Raw, table: str) -> set[str]:
    if db.postgres:
        rows = await db.rows("SELECT indexname FROM pg_indexes WHERE tablename = ?", table)
    else:
        rows = await db.rows("SELECT name FROM sqlite_master WHERE tbl_name = ?", table)
    return {str(r[0]) for r in rows}


async def test_the_client_sort_index_goes_without_rebuilding_clients(old_database: str) -> None:
    url = old_database
    _migrate(url, "models.0008_provider_list_order")
    async with _Raw(url) as db:
        user_id, client_id = await _person(db, "kept@example.org", password=True, verified=True)
        before = await _index_names(db, "clients")
        table = (
            []
            if db.postgres
            else await db.rows("SELECT rootpage, sql FROM sqlite_master WHERE name = 'clients'")
        )
    assert "idx_clients_sort_na_d71fba" in before
    _migrate(url)
    async with _Raw(url) as db:
        after = await _index_names(db, "clients")
        rows = await db.rows("SELECT id, user_id, sort_name FROM clients")
        if not db.postgres:  # the same table, not a copy (a rebuilt one has a new root page)
            assert table == await db.rows(
                "SELECT rootpage, sql FROM sqlite_master WHERE name = 'clients'"
            )
    assert after == before - {"idx_clients_sort_na_d71fba"}
    assert [(str(r[0]), str(r[1]), r[2]) for r in rows] == [
        (str(client_id), str(user_id), "known una")
    ]
    async with _Raw(url) as db:  # an account still has at most one profile
        with pytest.raises((sqlite3.IntegrityError, asyncpg.UniqueViolationError)):
            await db.run(
                "INSERT INTO clients (id, user_id, legal_first_name, legal_last_name,"
                " search_text, sort_name, reminders_sent, created_at, updated_at)"
                " VALUES (?, ?, 'Two', 'Profiles', '', '', 0, ?, ?)",
                uuid.uuid4(),
                user_id,
                T0,
                T0,
            )
