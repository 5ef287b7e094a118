"""The clientImportProgress subscription: current state first, then one event per batch."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from resolvers import imports
from resolvers.errors import DomainError
from resolvers.import_runner import TERMINAL, import_channel
from schema.context import Info
from schema.errors import public_error
from schema.imports import ClientImportType
from schema.live import keep_session_alive


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
        async with ctx.services.events.listen(import_channel(job.id)) as events:
            await job.refresh_from_db()
            yield ClientImportType.from_row(job)
            if job.status in TERMINAL:
                return
            last_seen = (job.status, job.processed_rows)
            async for _ in keep_session_alive(ctx, events):
                await job.refresh_from_db()
                if (job.status, job.processed_rows) == last_seen:
                    continue
                last_seen = (job.status, job.processed_rows)
                yield ClientImportType.from_row(job)
                if job.status in TERMINAL:
                    return
