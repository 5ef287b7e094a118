"""Append-only audit trail: actor, action, client id and time; never PHI."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

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
    await insert_rows(AuditEvent._meta.db, AuditEvent, _COLUMNS, rows)
