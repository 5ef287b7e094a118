"""Fast multi-row INSERTs and raw reads without the ORM's per-row work, for batches and pages."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime
from enum import Enum
from operator import itemgetter
from typing import Any, TypeVar
from uuid import UUID

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.fields.data import UUIDField
from tortoise.models import Model
from tortoise.queryset import QuerySet

M = TypeVar("M", bound=Model)

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


def db_timestamp(conn: BaseDBAsyncClient, value: datetime) -> datetime | str:
    """`value` as the driver takes it, converted once for a whole batch: the text Tortoise's
    SQLite adapter would write for every row (`isoformat(" ")`), or the datetime for asyncpg."""
    return value if is_postgres(conn) else value.isoformat(" ")


def db_date(postgres: bool, value: date | None) -> date | str | None:
    """A DATE parameter: the date for asyncpg, its ISO text for SQLite (as Tortoise writes it)."""
    return value if postgres or value is None else value.isoformat()


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
    if ready and is_postgres(conn):
        # COPY is several times faster than executemany; inside the batch's transaction, a
        # failing row still rolls the whole batch back.
        async with conn.acquire_connection() as raw:
            await raw.copy_records_to_table(table, records=rows, columns=list(columns))
        return
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
    """Run `sql` whose `IN ({marks})` is a list of `values`, after `before` positional params.

    On PostgreSQL the list is one array parameter (`= ANY($n)`): one statement text whatever
    the batch's size, so asyncpg prepares it once instead of once per distinct length.
    """
    if not values:
        return []
    if is_postgres(conn):
        query = sql.replace("IN ({marks})", f"= ANY(${len(before) + 1})")
        _, rows = await conn.execute_query(query, [*before, list(values)])
    else:
        marks = ", ".join(placeholders(conn, len(values), start=len(before) + 1))
        _, rows = await conn.execute_query(sql.format(marks=marks), [*before, *values])
    return [dict(row) for row in rows]


def sql_of(query: Any) -> tuple[str, list[Any]]:
    """The parameterized SQL of a Tortoise query (to nest it in a statement written here)."""
    query._choose_db_if_not_chosen()
    query._make_query()
    sql, params = query.query.get_parameterized_sql()
    return sql, list(params)


def columns_of(model: type[Model]) -> list[str]:
    """Every database column of `model`, in a fixed order (for `rows_to_models`)."""
    return list(model._meta.fields_db_projection.values())


def select_list(alias: str, columns: Sequence[str]) -> str:
    return ", ".join(f'{alias}."{c}"' for c in columns)


def model_from_row(model: type[M], columns: Sequence[str], values: Sequence[Any]) -> M:
    """A model instance from raw column values, as Tortoise builds one from its own SELECT."""
    return model._init_from_db(**dict(zip(columns, values, strict=True)))


class _IdClock:
    """The last millisecond a batch of ids took in this process: each batch takes a later one."""

    millis = 0


# The id's sequence part, "aaa-bbbb-c" of "…-7aaa-bbbb-cddd…", for the first sequence numbers
# (a batch's), formatted once per process.
_SEQUENCE_TEXT: list[str] = []
_CACHED_SEQUENCES = 4096


def _sequence_text(seq: int) -> str:
    # rand_a: the sequence's high 12 bits; then variant 10 and 14 bits; then its low 4 bits
    return f"{seq >> 18:03x}-{0x8000 | (seq >> 4) & 0x3FFF:04x}-{seq & 0xF:x}"


def new_ids(count: int) -> list[str]:
    """`count` time-ordered UUIDs (version 7) as text, made together in about a microsecond each.

    Ids made together sort together, so an import's inserts land at the end of each primary
    key index instead of on random pages: far fewer pages to write per batch. Layout: 48 bits
    of Unix milliseconds, the version, a 30-bit sequence spread over rand_a and rand_b, then
    44 random bits. Each call takes a millisecond of its own (the next one when the clock has
    not moved on), so within a process (millisecond, sequence) never repeats; the random bits
    keep processes apart. The text is assembled from pieces formatted once: the batch's
    millisecond, the cached sequence parts, and one hex string of random bytes.
    """
    if count >= 1 << 30:
        raise ValueError("at most 2**30 - 1 ids at once")
    millis = max(time.time_ns() // 1_000_000, _IdClock.millis + 1)
    _IdClock.millis = millis
    head = f"{millis:012x}"
    head = f"{head[:8]}-{head[8:]}-7"
    if len(_SEQUENCE_TEXT) < min(count, _CACHED_SEQUENCES):
        _SEQUENCE_TEXT.extend(
            _sequence_text(seq) for seq in range(len(_SEQUENCE_TEXT), _CACHED_SEQUENCES)
        )
    noise = os.urandom(6 * count).hex()  # 12 hex digits per id, the last 11 used
    sequences = _SEQUENCE_TEXT if count <= _CACHED_SEQUENCES else map(_sequence_text, range(count))
    return [
        head + seq + noise[i : i + 11]
        for i, seq in zip(range(0, 12 * count, 12), sequences, strict=False)
    ]


def row_reader(model: type[M], columns: Sequence[str]) -> Callable[[Sequence[Any]], M]:
    """`model_from_row` for one column list, compiled once: each column's conversion (the
    one Tortoise's `_init_from_db` applies) is looked up ahead, not per row and field."""
    meta = model._meta
    # (attribute, conversion, whether None is converted too): Tortoise converts a None only
    # for fields with their own to_python_value
    conversions: dict[str, tuple[str, Callable[[Any], Any] | None, bool]] = {}
    for key, attribute, _field in meta.db_native_fields:
        conversions[key] = (attribute, None, False)
    for key, attribute, field in meta.db_default_fields:
        conversions[key] = (attribute, field.field_type, False)
    for key, attribute, field in meta.db_complex_fields:
        if isinstance(field, UUIDField):
            conversions[key] = (attribute, _uuid, False)
        else:
            conversions[key] = (attribute, field.to_python_value, True)
    if sorted(conversions) != sorted(columns):
        raise ValueError(f"a row of {model.__name__} needs every column, once")
    steps = [conversions[column] for column in columns]
    custom_pk = meta.db_pk_column not in meta.generated_db_fields
    new = model.__new__

    def read(values: Sequence[Any]) -> M:
        instance = new(model)
        state = instance.__dict__
        state["_partial"] = False
        state["_saved_in_db"] = True
        state["_custom_generated_pk"] = custom_pk
        state["_await_when_save"] = {}
        for (attribute, convert, on_none), value in zip(steps, values, strict=True):
            if convert is None or (value is None and not on_none):
                state[attribute] = value
            else:
                state[attribute] = convert(value)
        return instance

    return read


def _uuid(value: Any) -> UUID:
    # UUIDField.to_python_value (None stays None) without the call through the field
    return value if isinstance(value, UUID) else UUID(value)


async def fetch_related(query: QuerySet[M]) -> list[M]:
    """`await query` for a query with select_related, its rows built by compiled row readers.

    Tortoise writes the statement (filters, policy scope, order, joins); its executor then
    builds every model of every row through `_init_from_db(**kwargs)`, which on a page of
    appointments or conversations (four models a row) costs more than the statement. This
    builds them as that executor does (the row read as a dict, so a column Tortoise selects
    twice counts once; a related object that is all NULL, a LEFT JOIN that found nothing, is
    None; each one set on its parent as `_<name>`), with `row_reader`.
    `query` must not have run before (Tortoise adds its joins again each time it builds one).
    """
    sql, params = sql_of(query)
    _, rows = await query._db.execute_query(sql, params)
    if not rows:
        return []
    pick, readers = _related_readers(sql, tuple(rows[0].keys()), query._select_related_idx)
    built: list[M] = []
    for row in rows:
        values = pick(tuple(row))
        instances: dict[tuple[str | None, ...], Any] = {}
        for start, end, read, parent, attribute, path in readers:
            part = values[start:end]
            if parent is None:
                obj = read(part)
                built.append(obj)
            else:
                obj = read(part) if any(part) else None
                target = instances.get(parent)
                if target is not None:
                    object.__setattr__(target, f"_{attribute}", obj)
            if obj is not None:
                instances[path] = obj
    return built


_Segment = tuple[int, int, Callable[[Sequence[Any]], Any], Any, str, tuple[str | None, ...]]
_RELATED_READERS: dict[
    str, tuple[Callable[[tuple[Any, ...]], tuple[Any, ...]], list[_Segment]]
] = {}


def _related_readers(
    sql: str, keys: tuple[str, ...], segments: list[Any]
) -> tuple[Callable[[tuple[Any, ...]], tuple[Any, ...]], list[_Segment]]:
    """How to read a select_related row: the values `dict(row)` keeps, in its order (a
    repeated column at its first place, with its last value), then per model its slice,
    reader, parent path and attribute."""
    known = _RELATED_READERS.get(sql)
    if known is not None:
        return known
    last = {key: index for index, key in enumerate(keys)}
    unique = list(last)  # first-seen order, as a dict keeps it
    getter = itemgetter(*(last[key] for key in unique))

    def pick(values: tuple[Any, ...]) -> tuple[Any, ...]:
        return getter(values)  # type: ignore[no-any-return]

    model, start, *_rest, path = segments[0]
    readers: list[_Segment] = [(0, start, row_reader(model, unique[:start]), None, "", tuple(path))]
    for model, count, *_rest, full_path in segments[1:]:
        if count == 0:
            raise ValueError("fetch_related reads whole related models only")
        *parent, attribute = full_path
        columns = [key.split(".", 1)[1] for key in unique[start : start + count]]
        reader = row_reader(model, columns)
        readers.append((start, start + count, reader, tuple(parent), attribute, tuple(full_path)))
        start += count
    if len(_RELATED_READERS) < 256:
        _RELATED_READERS[sql] = (pick, readers)
    return pick, readers
