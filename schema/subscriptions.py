"""Live subscriptions, relayed from Redis pub/sub so any API process serves any event."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from functools import partial
from typing import Annotated

import strawberry
from strawberry.types.nodes import SelectedField, Selection

from resolvers.clients import feed as client_feed
from resolvers.clients.adding import ClientView
from resolvers.errors import DomainError
from resolvers.messaging import feed as message_feed
from resolvers.messaging.threads import thread_key
from schema.clients import ClientType
from schema.context import Context, Info
from schema.errors import public_error
from schema.live import fan_out_pacer, live_events
from schema.loaders import Loaders
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
        pacer = fan_out_pacer()
        listen = partial(live_events, ctx, fresh_loaders=False)
        try:
            async for views in client_feed.follow_clients(ctx.actor, listen):
                # A DataLoader caches for its lifetime and this context lives as long as the
                # socket: each chunk is resolved with fresh loaders, or it would show stale data.
                ctx.loaders = Loaders()
                await _prime_loaders(ctx, views, selected)
                for view in views:
                    # Each item is executed and sent in turn with every other stream's, a
                    # few per turn of the event loop, after the requests waiting there.
                    await pacer.turn()
                    yield ClientType.from_view(view)
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
