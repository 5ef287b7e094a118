"""Tortoise's SQLite client with write transactions that begin holding the write lock."""

from __future__ import annotations

import sqlite3
from typing import Any

from tortoise.backends.base.client import TransactionalDBClient, TransactionContext
from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)
from tortoise.connection import get_connections
from tortoise.exceptions import OperationalError

# How long a SQLite writer waits for the write lock before its attempt fails (and the unit
# of work retries it): longer than any one write transaction (an import batch), short
# enough that a request does not hang.
DEFAULT_BUSY_TIMEOUT_MS = 5000


class _ImmediateTransaction(SqliteTransactionWrapper):
    """A SQLite transaction that takes the write lock when it begins (`BEGIN IMMEDIATE`).

    A deferred transaction that read first cannot upgrade to a write once another
    connection committed (SQLITE_BUSY at once, whatever the busy timeout); taking the lock
    up front makes concurrent writers wait their turn instead. Reads outside transactions
    stay concurrent under WAL.
    """

    async def begin(self) -> None:
        try:
            await self._connection.commit()
            await self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            # Busy after the timeout: an OperationalError, which the unit of work retries.
            raise OperationalError(exc) from exc


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


class ImmediateSqliteClient(SqliteClient):
    """Tortoise's SQLite client whose transactions begin with the write lock."""

    def __init__(self, file_path: str, **kwargs: Any) -> None:
        kwargs.setdefault("busy_timeout", DEFAULT_BUSY_TIMEOUT_MS)
        super().__init__(file_path, **kwargs)

    def _in_transaction(self) -> TransactionContext:
        return _ImmediateTransactionContext(_ImmediateTransaction(self), self._lock)


# Tortoise loads a connection's client from its "engine" module's `client_class`.
client_class = ImmediateSqliteClient
