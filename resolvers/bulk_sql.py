"""Fast multi-row INSERTs inside an open transaction, for the import's batches."""

from __future__ import annotations

import json
from collections.abc import Sequence
from enum import Enum
from typing import Any
from uuid import UUID

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model


def is_postgres(conn: BaseDBAsyncClient) -> bool:
    return conn.capabilities.dialect == "postgres"


def _value(value: Any, postgres: bool) -> Any:
    if isinstance(value, UUID):
        return value if postgres else str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def placeholders(conn: BaseDBAsyncClient, count: int, start: int = 1) -> list[str]:
    if is_postgres(conn):
        return [f"${i}" for i in range(start, start + count)]
    return ["?"] * count


async def insert_rows(
    conn: BaseDBAsyncClient,
    model: type[Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """INSERT `rows` (values in `columns` order, db column names) with one executemany."""
    if not rows:
        return
    postgres = is_postgres(conn)
    table = model._meta.db_table
    marks = ", ".join(placeholders(conn, len(columns)))
    names = ", ".join(f'"{c}"' for c in columns)
    sql = f'INSERT INTO "{table}" ({names}) VALUES ({marks})'  # noqa: S608 - names are ours
    await conn.execute_many(sql, [[_value(v, postgres) for v in row] for row in rows])
