"""The clientImportProgress subscription: current state first, then one event per batch of
rows and then per batch of invitation e-mails; complete once both are done.

Each event carries the whole snapshot, so relaying it reads nothing from the database.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from functools import partial
from typing import Annotated

import strawberry

from resolvers.errors import DomainError
from resolvers.imports import client_imports as imports
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
            async for job in imports.follow_import(ctx.actor, id, partial(live_events, ctx)):
                yield ClientImportType.from_row(job)
        except DomainError as error:
            raise public_error(error) from None
