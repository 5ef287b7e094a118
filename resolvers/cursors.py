"""Opaque keyset cursors over (time, id), for lists ordered by a timestamp."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from resolvers.client_list import decode_cursor, encode_cursor
from resolvers.errors import FieldProblem, InvalidInput


def time_cursor(at: datetime, row_id: UUID) -> str:
    return encode_cursor([at.isoformat(), str(row_id)])


def read_time_cursor(cursor: str) -> tuple[datetime, UUID]:
    value, row_id = decode_cursor(cursor)
    try:
        return datetime.fromisoformat(str(value)), UUID(str(row_id))
    except ValueError:
        raise InvalidInput([FieldProblem("after", "is not a cursor from this list")]) from None
