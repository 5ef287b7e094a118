"""The clientImportProgress subscription: current state first, then one event per batch.

Each event carries the whole snapshot, so relaying it reads nothing from the database.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from resolvers import imports
from resolvers.errors import DomainError
from resolvers.import_runner import TERMINAL, apply_snapshot, import_channel
from schema.context import Info
from schema.errors import public_error
from schema.imports import IMPORT_ID, ClientImportType
from schema.live import live_events


@strawberry.type
class ImportSubscriptions:
    @strawberry.subscription(
        description="An import's progress (its provider only): the current state first, then "
        "one event per batch; completes after a terminal status."
    )
    async def client_import_progress(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description=IMPORT_ID)]
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
            if job.status in TERMINAL:
                return
            async for event in events:
                if (
                    event["status"] == job.status.value
                    and event["processed_rows"] <= job.processed_rows
                ):
                    continue  # published before the state read above
                apply_snapshot(job, event)
                yield ClientImportType.from_row(job)
                if job.status in TERMINAL:
                    return
