"""Tortoise's SQLite client: write transactions begin holding the write lock; reads run apart."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import aiosqlite
from tortoise.backends.base.client import TransactionalDBClient, TransactionContext
from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)
from tortoise.connection import get_connections
from tortoise.exceptions import IntegrityError, OperationalError

# How long a SQLite writer waits for the write lock before its attempt fails (and the unit
# of work retries it): longer than any one write transaction (an import batch), short
# enough that a request does not hang.
DEFAULT_BUSY_TIMEOUT_MS = 5000
# Connections for statements that only read, outside transactions. Tortoise gives a process
# one connection behind one lock, and a write transaction holds it from BEGIN IMMEDIATE
# (which may wait for the worker's import batch) to COMMIT: every read of the process
# would queue behind it. Under WAL, readers on their own connections see the last commit
# and never wait for the writer.
READ_CONNECTIONS = 2
# A writer waiting for the lock asks again at most this often. SQLite's own busy handler
# sleeps ever longer (up to 100 ms a try once it waited 100 ms): the worker, beginning its
# next import batch a few milliseconds after committing the last, would win the lock every
# time against an API request that is asleep in its back-off.
WAIT_SLICE_MS = 8
# A connection that held the lock this long lets it go for a moment before taking it again,
# so writers of other processes, asking every WAIT_SLICE_MS, get their turn between batches.
LONG_HOLD_SECONDS = 0.05
COURTESY_SECONDS = 0.01
# A background writer (the worker) lets announced request writers go first for at most this
# long before it asks for the lock itself: its imports and deliveries still move under a
# steady stream of requests.
YIELD_MOST_SECONDS = 0.2
YIELD_SLICE_SECONDS = 0.002


class WriterQueue:
    """Request writers of every process announce that they wait for the write lock; a
    background writer does not take the lock while one waits.

    SQLite's lock is not fair: the worker, beginning its next transaction a moment after
    committing the last (it has a queue of them), won it almost every time against an API
    request asking every WAIT_SLICE_MS, which then waited for several of the worker's
    transactions. The announcement is a shared `flock` on a file beside the database, taken
    while a request waits; the worker asks for an exclusive one without blocking and, while
    it cannot have it, waits. Both run in the connection's thread, as the lock waits do.
    """

    def __init__(self, database_path: str) -> None:
        self.path = f"{database_path}-writers"
        self._fd: int | None = None

    def _file(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    @contextmanager
    def waiting(self) -> Iterator[None]:
        fd = self._file()
        fcntl.flock(fd, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def let_requests_go_first(self, most_seconds: float = YIELD_MOST_SECONDS) -> float:
        """Wait while a request writer waits (at most `most_seconds`); the seconds waited."""
        fd = self._file()
        started = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                waited = time.monotonic() - started
                if waited >= most_seconds:
                    return waited
                time.sleep(YIELD_SLICE_SECONDS)
                continue
            fcntl.flock(fd, fcntl.LOCK_UN)
            return time.monotonic() - started

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


# Whether this process's writers are background ones (`caseload worker` says so at start).
_background = False


def defer_to_requests() -> None:
    """This process's write transactions let waiting request writers go first."""
    global _background
    _background = True


def _begin_immediate(conn: sqlite3.Connection, queue: WriterQueue | None = None) -> None:
    """BEGIN IMMEDIATE, asking for the lock every few milliseconds for up to the connection's
    busy timeout; a request writer announces its wait on `queue`, a background writer lets
    announced ones go first.

    Runs in the connection's thread, like the waits of SQLite's own busy handler.
    """
    if conn.in_transaction:  # what Tortoise's own begin() commits first
        conn.commit()
    if queue is None:
        _take_lock(conn)
    elif _background:
        queue.let_requests_go_first()
        _take_lock(conn)
    else:
        with queue.waiting():
            _take_lock(conn)


def _take_lock(conn: sqlite3.Connection) -> None:
    wait_ms = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
    deadline = time.monotonic() + wait_ms / 1000
    conn.execute(f"PRAGMA busy_timeout={min(WAIT_SLICE_MS, wait_ms)}")
    try:
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
    finally:
        conn.execute(f"PRAGMA busy_timeout={wait_ms}")


class _ImmediateTransaction(SqliteTransactionWrapper):
    """A SQLite transaction that takes the write lock when it begins (`BEGIN IMMEDIATE`).

    A deferred transaction that read first cannot upgrade to a write once another
    connection committed (SQLITE_BUSY at once, whatever the busy timeout); taking the lock
    up front makes concurrent writers wait their turn instead. Reads outside transactions
    stay concurrent under WAL.
    """

    async def begin(self) -> None:
        client = self._parent
        assert isinstance(client, ImmediateSqliteClient)
        await client.courtesy()
        try:
            # One hop to the connection's thread (commit, then wait there for the lock): each
            # hop waits for a turn of the event loop, and from here to COMMIT the lock is held.
            await self._connection._execute(  # type: ignore[no-untyped-call] # aiosqlite leaves it untyped
                _begin_immediate, self._connection._conn, client.writers
            )
        except sqlite3.OperationalError as exc:
            # Busy after the timeout: an OperationalError, which the unit of work retries.
            raise OperationalError(exc) from exc
        client.locked_at = time.monotonic()

    async def commit(self) -> None:
        try:
            await super().commit()
        finally:
            self._released()

    async def rollback(self) -> None:
        try:
            await super().rollback()
        finally:
            self._released()

    def _released(self) -> None:
        client = self._parent
        if isinstance(client, ImmediateSqliteClient):
            client.released()


class _ImmediateTransactionContext(SqliteTransactionContext):
    """Tortoise's context, but one whose failed BEGIN gives the connection back."""

    async def __aenter__(self) -> TransactionalDBClient:
        await self._trxlock.acquire()
        try:
            await self.ensure_connection()
            await self.connection.begin()
        except BaseException:
            self._trxlock.release()
            raise
        self.token = get_connections().set(self.connection_name, self.connection)
        return self.connection  # type: ignore[no-any-return]


def _only_reads(query: str) -> bool:
    return query.lstrip()[:6].upper() == "SELECT"


def _in_memory(file_path: str) -> bool:
    # every connection to ":memory:" opens a database of its own
    return file_path == ":memory:" or "mode=memory" in file_path


class ImmediateSqliteClient(SqliteClient):
    """Tortoise's SQLite client whose transactions begin with the write lock.

    Plain SELECTs outside a transaction go to a small pool of read-only connections, so
    reads never queue behind a write transaction (or its wait for the lock); everything
    else keeps Tortoise's one connection.
    """

    def __init__(self, file_path: str, **kwargs: Any) -> None:
        kwargs.setdefault("busy_timeout", DEFAULT_BUSY_TIMEOUT_MS)
        super().__init__(file_path, **kwargs)
        self._readers_allowed = READ_CONNECTIONS if not _in_memory(file_path) else 0
        self.writers = WriterQueue(file_path) if not _in_memory(file_path) else None
        self._readers: list[aiosqlite.Connection] = []
        self._idle_readers: asyncio.Queue[aiosqlite.Connection] | None = None
        self._opening_readers = 0
        # when this connection's write transaction took the lock, and when it let go
        self.locked_at: float | None = None
        self._long_hold_ended = 0.0

    def released(self) -> None:
        if self.locked_at is None:
            return
        now = time.monotonic()
        if now - self.locked_at >= LONG_HOLD_SECONDS:
            self._long_hold_ended = now
        self.locked_at = None

    async def courtesy(self) -> None:
        """After a long hold, wait out a moment before taking the lock again."""
        left = self._long_hold_ended + COURTESY_SECONDS - time.monotonic()
        if left > 0:
            await asyncio.sleep(left)

    def _in_transaction(self) -> TransactionContext:
        return _ImmediateTransactionContext(_ImmediateTransaction(self), self._lock)

    async def _open_reader(self) -> aiosqlite.Connection:
        reader = await aiosqlite.connect(self.filename, isolation_level=None)
        reader._conn.row_factory = sqlite3.Row
        for pragma in ("busy_timeout", "cache_size", "mmap_size"):
            if pragma in self.pragmas:
                await (await reader.execute(f"PRAGMA {pragma}={self.pragmas[pragma]}")).close()
        # a statement sent here by mistake fails loudly instead of writing outside the lock
        await (await reader.execute("PRAGMA query_only=ON")).close()
        return reader

    @asynccontextmanager
    async def _reader(self) -> AsyncIterator[aiosqlite.Connection]:
        if self._idle_readers is None:
            self._idle_readers = asyncio.Queue()
        idle = self._idle_readers
        if idle.empty() and len(self._readers) + self._opening_readers < self._readers_allowed:
            self._opening_readers += 1
            try:
                reader = await self._open_reader()
            finally:
                self._opening_readers -= 1
            self._readers.append(reader)
        else:
            reader = await idle.get()
        try:
            yield reader
        finally:
            idle.put_nowait(reader)

    async def execute_query(
        self, query: str, values: list[Any] | None = None
    ) -> tuple[int, Sequence[dict[str, Any]]]:
        if not (self._readers_allowed and _only_reads(query)):
            result: tuple[int, Sequence[dict[str, Any]]] = await super().execute_query(
                query, values
            )
            return result
        rows = await self._read(query, values)
        return len(rows), rows

    async def execute_query_dict(
        self, query: str, values: list[Any] | None = None
    ) -> list[dict[str, Any]]:
        if not (self._readers_allowed and _only_reads(query)):
            written: list[dict[str, Any]] = await super().execute_query_dict(query, values)
            return written
        return list(map(dict, await self._read(query, values)))

    async def _read(self, query: str, values: list[Any] | None) -> Sequence[Any]:
        query = query.replace("\x00", "'||CHAR(0)||'")  # as Tortoise's own execute_query
        self.log.debug("%s: %s", query, values)
        try:
            async with self._reader() as reader:
                return list(await reader.execute_fetchall(query, values))
        except sqlite3.OperationalError as exc:
            raise OperationalError(exc) from exc
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(exc) from exc

    async def close(self) -> None:
        readers, self._readers, self._idle_readers = self._readers, [], None
        for reader in readers:
            await reader.close()
        await super().close()
        if self.writers is not None:
            self.writers.close()


# Tortoise loads a connection's client from its "engine" module's `client_class`.
client_class = ImmediateSqliteClient
