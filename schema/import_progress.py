"""The clientImportProgress subscription: current state first, then one event per batch of
rows and then per batch of invitation e-mails; complete once both are done.

Each event carries the whole snapshot, so relaying it reads nothing from the database.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import strawberry

from models import ClientImport as ClientImportRow
from resolvers import imports
from resolvers.campaigns import is_done
from resolvers.errors import DomainError
from resolvers.import_runner import TERMINAL, apply_snapshot, import_channel
from schema.context import Info
from schema.errors import public_error
from schema.imports import ClientImportType
from schema.live import live_events


@strawberry.type
class ImportSubscriptions:
    @strawberry.subscription
    async def client_import_progress(
        self, info: Info, id: strawberry.ID
    ) -> AsyncGenerator[ClientImportType, None]:
        ctx = info.context
        try:
            job = await imports.own_import(ctx.actor, id)
        except DomainError as error:
            raise public_error(error) from None
        # Subscribe first, then read: no batch can slip between the two.
        async with live_events(ctx, import_channel(job.id)) as events:
            await job.refresh_from_db()
            yield ClientImportType.from_row(job)
            if is_done(job):
                return
            async for event in events:
                if not _newer(event, job):
                    continue  # published before the state read above
                apply_snapshot(job, event)
                yield ClientImportType.from_row(job)
                if is_done(job):
                    return


def _newer(event: dict[str, Any], job: ClientImportRow) -> bool:
    """Whether an event moves past the state held (rows and e-mails only ever go forward; a
    cancelled invitation lowers the total), so one published before the read is dropped."""
    if job.status in TERMINAL and event["status"] not in TERMINAL_NAMES:
        return False
    counts = ("processed_rows", "invitations_sent", "invitations_failed")
    if any(event.get(name, 0) < getattr(job, name) for name in counts):
        return False
    return (
        event["status"] != job.status.value
        or any(event.get(name, 0) > getattr(job, name) for name in counts)
        or event.get("invitations_total", 0) != job.invitations_total
    )


TERMINAL_NAMES = {status.value for status in TERMINAL}
