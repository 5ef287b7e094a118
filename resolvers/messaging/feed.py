"""Live delivery of new messages: one Redis channel per account, filtered to the viewer's threads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from models import Message
from resolvers.actor import Actor
from resolvers.effects import MessagePosted, messages_channel
from resolvers.errors import NotFound
from resolvers.policies import messages_visible_to, parse_id, require_party, threads_visible_to


@dataclass(frozen=True)
class Feed:
    channel: str
    thread_id: UUID | None  # only this thread, when the subscriber asked for one


async def open_feed(actor: Actor | None, thread_id: str | None) -> Feed:
    """What to listen to; a thread the viewer is not in answers like an unknown one."""
    party = require_party(actor)
    only = None
    if thread_id:
        try:
            only = parse_id(thread_id)
        except NotFound:
            only = None
        if only is None or not await threads_visible_to(party).filter(id=only).exists():
            raise NotFound("No conversation with that id.")
    return Feed(channel=messages_channel(party.user_id), thread_id=only)


async def delivered(actor: Actor | None, feed: Feed, event: dict[str, Any]) -> Message | None:
    """The message an event names, read back through the viewer's own scope."""
    if actor is None:
        return None
    posted = MessagePosted.from_json(event)
    if feed.thread_id is not None and posted.thread_id != str(feed.thread_id):
        return None
    try:
        message_id = parse_id(posted.message_id)
    except NotFound:
        return None
    return await messages_visible_to(actor).get_or_none(id=message_id)
