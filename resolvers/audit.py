"""Append-only audit trail: actor, action, client id and time; never PHI."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from models import AuditEvent
from resolvers.actor import Actor


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
    await AuditEvent.bulk_create(
        [
            AuditEvent(
                actor_id=actor.user_id if actor else None,
                actor_role=actor.role.value if actor else None,
                action=action,
                client_id=client_id,
                subject_id=subject_id,
            )
            for client_id in client_ids
        ]
    )
