"""Append-only audit trail: actor, action, client id and time; never PHI.

Reads are audited before they are answered: `record_each` returns once its rows are
committed, so a process that dies after answering has lost no audit row. Concurrent reads
share commits (group commit): while one INSERT is being written, the rows of every read that
arrives meanwhile are gathered and written together by the next, and each read waits for the
commit that holds its rows. One request alone waits no longer than before; under load the
writer's one connection commits once for many requests instead of once each.
"""

from __future__ import annotations

import asyncio
import weakref
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient

from models import AuditEvent
from resolvers.actor import Actor
from resolvers.bulk_sql import insert_rows, new_ids

_COLUMNS = ("id", "actor_id", "actor_role", "action", "client_id", "subject_id", "created_at")


async def record(
    actor: Actor | None,
    action: str,
    *,
    client_id: UUID | None = None,
    subject_id: UUID | None = None,
    conn: Any = None,
) -> None:
    await AuditEvent.create(
        actor_id=actor.user_id if actor else None,
        actor_role=actor.role.value if actor else None,
        action=action,
        client_id=client_id,
        subject_id=subject_id,
        using_db=conn,
    )


async def record_each(
    actor: Actor | None, action: str, client_ids: list[UUID], *, subject_id: UUID | None = None
) -> None:
    """One event per client (a page of records read), written in a single INSERT."""
    if not client_ids:
        return
    # plain rows in one executemany: a list page writes one per item, on every read, and
    # building and validating model instances cost more than the INSERT itself
    actor_id = actor.user_id if actor else None
    role = actor.role.value if actor else None
    now = datetime.now(UTC)
    ids = new_ids(len(client_ids))
    rows = [
        [row_id, actor_id, role, action, client_id, subject_id, now]
        for row_id, client_id in zip(ids, client_ids, strict=True)
    ]
    conn = AuditEvent._meta.db
    if isinstance(conn, TransactionalDBClient):
        await insert_rows(conn, AuditEvent, _COLUMNS, rows)  # part of the caller's transaction
        return
    await _committer(conn).write(rows)


class _GroupCommit:
    """Writes the rows handed to it in as few INSERTs as possible, one at a time."""

    def __init__(self, conn: BaseDBAsyncClient) -> None:
        self.conn = conn
        self.waiting: list[list[Any]] = []
        self.committed: asyncio.Future[None] | None = None  # the next commit, not begun
        self.writing = False
        self._drain_task: asyncio.Task[None] | None = None  # held: the loop keeps only weak refs

    async def write(self, rows: list[list[Any]]) -> None:
        self.waiting.extend(rows)
        if self.committed is None:
            self.committed = asyncio.get_running_loop().create_future()
        committed = self.committed
        if not self.writing:
            self.writing = True
            self._drain_task = asyncio.get_running_loop().create_task(self._drain())
        # a cancelled request still leaves its rows to the commit under way
        await asyncio.shield(committed)

    async def _drain(self) -> None:
        try:
            while self.committed is not None:
                rows, committed = self.waiting, self.committed
                self.waiting, self.committed = [], None
                try:
                    await insert_rows(self.conn, AuditEvent, _COLUMNS, rows)
                except BaseException as error:  # every read of the batch fails with it
                    committed.set_exception(error)
                    if not isinstance(error, Exception):
                        raise
                else:
                    committed.set_result(None)
        finally:
            self.writing = False


# one committer per event loop and connection (tests run several loops in one process)
_COMMITTERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, _GroupCommit]] = (
    weakref.WeakKeyDictionary()
)


def _committer(conn: BaseDBAsyncClient) -> _GroupCommit:
    by_conn = _COMMITTERS.setdefault(asyncio.get_running_loop(), {})
    committer = by_conn.get(id(conn))
    if committer is None or committer.conn is not conn:
        committer = by_conn[id(conn)] = _GroupCommit(conn)
    return committer
