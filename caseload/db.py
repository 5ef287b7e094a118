"""Tortoise configuration, start-up and migrations for SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from tortoise import Tortoise
from tortoise.migrations.api import migrate as migrate_api

from caseload.settings import Settings


def tortoise_config(database_url: str) -> dict[str, Any]:
    url = database_url
    if url.startswith("postgresql://"):
        url = "postgres://" + url.removeprefix("postgresql://")
    return {
        "connections": {"default": url},
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
