"""Migrations keep data: an import stored before 0005 keeps its file and issues afterwards."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

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
        stored = db.execute("SELECT client_import_id, data FROM client_import_files").fetchall()
        issues = db.execute("SELECT client_import_id, row FROM client_import_issues").fetchall()
    assert "file_data" not in columns
    assert stored == [(import_id, data)]
    assert issues == [(import_id, 2)]  # rebuilding the table would have cascaded them away
