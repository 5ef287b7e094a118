"""Live subscriptions, relayed from Redis pub/sub so any API process serves any event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from functools import partial
from typing import Annotated

import strawberry
from strawberry.types.nodes import SelectedField, Selection

from resolvers.clients import listing as client_list
from resolvers.clients.adding import ClientView
from resolvers.errors import DomainError
from resolvers.messaging import feed as message_feed
from resolvers.messaging.threads import thread_key
from schema.clients import ClientType
from schema.context import Context, Info
from schema.errors import public_error
from schema.live import live_events
from schema.messaging import MessageType


def _selected_fields(info: Info) -> set[str]:
    """Names of the fields selected directly on the subscription's type, fragments included."""
    names: set[str] = set()

    def walk(selections: list[Selection]) -> None:
        for selection in selections:
            if isinstance(selection, SelectedField):
                names.add(selection.name)
            else:
                walk(selection.selections)

    for field in info.selected_fields:
        walk(field.selections)
    return names


async def _prime_loaders(ctx: Context, views: list[ClientView], selected: set[str]) -> None:
    """Load what the selected fields need for the whole event at once.

    Every yielded client is resolved on its own, so a loader would otherwise batch one key.
    """
    if "onboarding" in selected:
        await ctx.loaders.forms_acknowledged.load_many([view.client.id for view in views])
    if "messageThread" in selected:
        keys = [key for view in views if (key := thread_key(ctx.actor, view)) is not None]
        await ctx.loaders.thread_by_pair.load_many(keys)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Providers: a client on the list changed (an onboarding step done, added "
        "by an import or by writing first); each event is the client as it is now."
    )
    async def client_updated(self, info: Info) -> AsyncGenerator[ClientType, None]:
        ctx = info.context
        selected = _selected_fields(info)
        try:
            async for views in client_list.follow_clients(ctx.actor, partial(live_events, ctx)):
                await _prime_loaders(ctx, views, selected)
                for view in views:
                    yield ClientType.from_view(view)
                    # Sending rarely waits, so without this an event naming thousands of
                    # clients would be sent in one step, holding the event loop from every
                    # request meanwhile.
                    await asyncio.sleep(0)
        except DomainError as error:
            raise public_error(error) from None

    @strawberry.subscription(description="New messages in the viewer's threads, or in one.")
    async def message_received(
        self,
        info: Info,
        thread_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only this conversation's; leave out for all."),
        ] = None,
    ) -> AsyncGenerator[MessageType, None]:
        ctx = info.context
        try:
            feed = await message_feed.open_feed(ctx.actor, thread_id)
        except DomainError as error:
            raise public_error(error) from None
        async with live_events(ctx, feed.channel) as events:
            async for event in events:
                message = await message_feed.delivered(ctx.actor, feed, event)
                if message is not None:
                    yield MessageType.from_model(message)
