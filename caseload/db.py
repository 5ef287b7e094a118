"""Tortoise configuration, start-up and migrations for SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.api import migrate as migrate_api

from caseload.settings import Settings

# PostgreSQL SQLSTATEs that mean "run the transaction again": serialization_failure,
# deadlock_detected.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6


def is_transient(error: BaseException) -> bool:
    """A failure that a fresh attempt of the same transaction may not meet again.

    SQLite busy/locked, PostgreSQL serialization failures and deadlocks, however Tortoise
    or the driver wrapped them.
    """
    seen: set[int] = set()
    stack: list[BaseException] = [error]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if getattr(current, "sqlstate", None) in RETRYABLE_SQLSTATES:
            return True
        if isinstance(current, sqlite3.OperationalError):
            code = getattr(current, "sqlite_errorcode", None)
            if code is not None and code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED):
                return True
            text = str(current)
            if "database is locked" in text or "database table is locked" in text:
                return True
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))
        stack.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return False


def _connection(url: str) -> str | dict[str, Any]:
    if not url.startswith("sqlite://"):
        return url
    expanded = expand_db_url(url)
    # The module name must say "sqlite": Tortoise's migrations pick their SQL dialect by it.
    expanded["engine"] = "caseload.sqlite_writes"
    return expanded


def tortoise_config(database_url: str) -> dict[str, Any]:
    url = database_url
    if url.startswith("postgresql://"):
        url = "postgres://" + url.removeprefix("postgresql://")
    return {
        "connections": {"default": _connection(url)},
        "apps": {
            "models": {
                "models": ["models"],
                "migrations": "models.migrations",
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def settings_config(settings: Settings) -> dict[str, Any]:
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return tortoise_config(settings.resolved_database_url())


# `tortoise --config caseload.db.TORTOISE_ORM makemigrations` reads this.
TORTOISE_ORM = tortoise_config("sqlite://:memory:")


async def apply_migrations(settings: Settings) -> None:
    """Apply every pending migration, then leave Tortoise closed."""
    try:
        await migrate_api(config=settings_config(settings))
    finally:
        await Tortoise.close_connections()


async def init_db(settings: Settings) -> None:
    await Tortoise.init(config=settings_config(settings), _enable_global_fallback=True)


async def close_db() -> None:
    await Tortoise.close_connections()
