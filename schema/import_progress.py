"""The clientImportProgress subscription: current state first, then one event per batch.

Each event carries the whole snapshot, so relaying it reads nothing from the database.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from functools import partial

import strawberry

from resolvers import imports
from resolvers.errors import DomainError
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
            async for job in imports.follow_import(ctx.actor, id, partial(live_events, ctx)):
                yield ClientImportType.from_row(job)
        except DomainError as error:
            raise public_error(error) from None
