"""Fast multi-row INSERTs and IN-list reads inside an open transaction, for import batches."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from enum import Enum
from typing import Any
from uuid import UUID

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

_PLAIN = frozenset({str, int, float, bool, bytes})


def is_postgres(conn: BaseDBAsyncClient) -> bool:
    return conn.capabilities.dialect == "postgres"


def _value(value: Any, postgres: bool) -> Any:
    if value is None or type(value) in _PLAIN:
        return value
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
    *,
    ready: bool = False,
) -> None:
    """INSERT `rows` (values in `columns` order, db column names) with one executemany.

    `ready=True` says the values are already what the driver takes (text ids, JSON text).
    """
    if not rows:
        return
    table = model._meta.db_table
    marks = ", ".join(placeholders(conn, len(columns)))
    names = ", ".join(f'"{c}"' for c in columns)
    sql = f'INSERT INTO "{table}" ({names}) VALUES ({marks})'  # noqa: S608 - names are ours
    if ready:
        await conn.execute_many(sql, rows)  # type: ignore[arg-type]
        return
    postgres = is_postgres(conn)
    await conn.execute_many(sql, [[_value(v, postgres) for v in row] for row in rows])


async def select_in(
    conn: BaseDBAsyncClient, sql: str, values: Sequence[Any], *before: Any
) -> list[dict[str, Any]]:
    """Run `sql` whose `{marks}` is an IN list of `values`, after `before` positional params."""
    if not values:
        return []
    marks = ", ".join(placeholders(conn, len(values), start=len(before) + 1))
    _, rows = await conn.execute_query(sql.format(marks=marks), [*before, *values])
    return [dict(row) for row in rows]


def new_ids(count: int) -> list[str]:
    """Random version-4 UUIDs as text, several times faster than str(uuid4()) one by one."""
    raw = bytearray(os.urandom(16 * count))
    ids = []
    for i in range(0, 16 * count, 16):
        raw[i + 6] = (raw[i + 6] & 0x0F) | 0x40
        raw[i + 8] = (raw[i + 8] & 0x3F) | 0x80
        h = raw[i : i + 16].hex()
        ids.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return ids
