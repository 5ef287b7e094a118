"""Opaque keyset cursors: a sort value and a row id, checked when read back."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from tortoise.queryset import QuerySet

from resolvers.errors import FieldProblem, InvalidInput

# A list's size, counted only when a caller asks (a connection's totalCount, when selected).
LazyCount = Callable[[], Awaitable[int]]


async def nothing_to_count() -> int:
    return 0


def count_of(query: QuerySet[Any]) -> LazyCount:
    """The size of a query's result, counted only when awaited."""

    async def count() -> int:
        return await query.count()

    return count


def _not_ours() -> InvalidInput:
    return InvalidInput([FieldProblem("after", "is not a cursor from this list")])


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def decode_cursor(cursor: str) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError:
        raise _not_ours() from None
    if not isinstance(values, list) or len(values) != 2:
        raise _not_ours()
    return values


def read_cursor(cursor: str) -> tuple[Any, UUID]:
    """(sort value, row id) of a cursor whose id is a UUID."""
    value, row_id = decode_cursor(cursor)
    try:
        return value, UUID(str(row_id))
    except ValueError:
        raise _not_ours() from None


def time_cursor(at: datetime, row_id: UUID) -> str:
    return encode_cursor([at.isoformat(), str(row_id)])


def read_time_cursor(cursor: str) -> tuple[datetime, UUID]:
    value, row_id = read_cursor(cursor)
    try:
        return datetime.fromisoformat(str(value)), row_id
    except ValueError:
        raise _not_ours() from None


def read_int_cursor(cursor: str) -> int:
    """The integer id of a cursor made as [anything, id]."""
    _, row_id = decode_cursor(cursor)
    if not isinstance(row_id, int) or isinstance(row_id, bool):
        raise _not_ours()
    return row_id
