"""Reading conversations: the viewer's threads, one thread's messages, unread counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from tortoise.expressions import Q
from tortoise.functions import Count

from models import Message, MessageThread, Provider, Role
from resolvers import audit
from resolvers.actor import Actor
from resolvers.bulk_sql import fetch_related
from resolvers.clients.views import ClientView, client_view, links_of
from resolvers.cursors import count_of, read_time_cursor, time_cursor
from resolvers.errors import NotFound
from resolvers.pages import Page, page_size
from resolvers.policies import (
    parse_id,
    party_or_none,
    require_party,
    takes_part_in,
    threads_visible_to,
)


@dataclass(frozen=True)
class ThreadView:
    """A thread with its two parties, the client as the viewer sees them."""

    thread: MessageThread
    client: ClientView
    provider: Provider


def other_side(role: Role) -> Role:
    return Role.CLIENT if role is Role.PROVIDER else Role.PROVIDER


async def thread_views(actor: Actor, threads: Sequence[MessageThread]) -> list[ThreadView]:
    """Needs `provider`, `client` and `client__user` loaded; one more query for a provider."""
    links = await links_of(actor, {t.client_id for t in threads})
    return [
        ThreadView(t, client_view(t.client, links.get(t.client_id)), t.provider) for t in threads
    ]


async def list_threads(actor: Actor | None, first: int, after: str | None) -> Page[ThreadView]:
    """Newest activity first. A thread that moves up between pages may be seen twice."""
    party = require_party(actor)
    size = page_size(first)
    query = threads_visible_to(party)
    count = count_of(query)
    if after:
        at, last_id = read_time_cursor(after)
        query = query.filter(Q(last_message_at__lt=at) | Q(last_message_at=at, id__lt=last_id))
    rows = await fetch_related(
        query.order_by("-last_message_at", "-id")
        .limit(size + 1)
        .select_related("provider", "client", "client__user")
    )
    views = await thread_views(party, rows[:size])
    items = [(time_cursor(v.thread.last_message_at, v.thread.id), v) for v in views]
    # a page of conversations shows each client's name: audited, in one INSERT
    await audit.record_each(party, "messages.list", [v.thread.client_id for v in views])
    return Page(items=items, has_next_page=len(rows) > size, count=count)


async def get_thread(actor: Actor | None, thread_id: str) -> ThreadView | None:
    """One of the viewer's threads, or None exactly as for an unknown id."""
    party = party_or_none(actor)
    if party is None:
        return None
    try:
        key = parse_id(thread_id)
    except NotFound:
        return None
    thread = (
        await threads_visible_to(party)
        .get_or_none(id=key)
        .select_related("provider", "client", "client__user")
    )
    if thread is None:
        return None
    await audit.record(party, "messages.read", client_id=thread.client_id, subject_id=thread.id)
    return (await thread_views(party, [thread]))[0]


async def visible_thread(actor: Actor, thread_id: str) -> ThreadView:
    view = await get_thread(actor, thread_id)
    if view is None:
        raise NotFound("No conversation with that id.")
    return view


async def list_messages(
    actor: Actor | None, thread: MessageThread, first: int, after: str | None
) -> Page[Message]:
    """Newest first; `after` continues towards older messages."""
    if not takes_part_in(actor, thread):
        return Page(items=[], has_next_page=False)
    size = page_size(first)
    query = Message.filter(thread_id=thread.id)
    count = count_of(query)
    if after:
        at, last_id = read_time_cursor(after)
        query = query.filter(Q(sent_at__lt=at) | Q(sent_at=at, id__lt=last_id))
    rows = await query.order_by("-sent_at", "-id").limit(size + 1)
    items = [(time_cursor(m.sent_at, m.id), m) for m in rows[:size]]
    return Page(items=items, has_next_page=len(rows) > size, count=count)


async def unread_counts(keys: Sequence[tuple[UUID, Role]]) -> list[int]:
    """For each (thread, reader role): messages from the other side not read yet."""
    counts: dict[tuple[UUID, Role], int] = {}
    for reader in {role for _, role in keys}:
        ids = [thread_id for thread_id, role in keys if role is reader]
        rows = (
            await Message.filter(thread_id__in=ids, read_at=None, sender_role=other_side(reader))
            .group_by("thread_id")
            .annotate(n=Count("id"))
            .values_list("thread_id", "n")
        )
        for thread_id, n in rows:
            counts[(UUID(str(thread_id)), reader)] = n
    return [counts.get(key, 0) for key in keys]


def thread_key(actor: Actor | None, client: ClientView) -> tuple[UUID, UUID] | None:
    """The (provider, client) pair of `Client.messageThread`: only for that provider."""
    link = client.link
    if actor is None or not actor.is_provider or link is None:
        return None
    if link.provider_id != actor.provider_id:
        return None
    return (link.provider_id, link.client_id)


async def threads_by_pair(pairs: Sequence[tuple[UUID, UUID]]) -> list[MessageThread | None]:
    rows = await MessageThread.filter(
        provider_id__in={p for p, _ in pairs}, client_id__in={c for _, c in pairs}
    ).select_related("provider")
    found = {(row.provider_id, row.client_id): row for row in rows}
    return [found.get(pair) for pair in pairs]


async def has_unread(thread_id: UUID, reader_user_id: UUID) -> bool:
    """Whether this party of the thread still has something unread (e-mail renderers ask)."""
    thread = await MessageThread.get_or_none(id=thread_id).select_related("provider", "client")
    if thread is None:
        return False
    if thread.provider.user_id == reader_user_id:
        reader = Role.PROVIDER
    elif thread.client.user_id == reader_user_id:
        reader = Role.CLIENT
    else:
        return False
    return await Message.filter(
        thread_id=thread_id, read_at=None, sender_role=other_side(reader)
    ).exists()


async def provider_profile(provider_id: str) -> Provider | None:
    """A provider's public profile (name and practice), which anyone may look up by id."""
    try:
        return await Provider.get_or_none(id=parse_id(provider_id))
    except NotFound:
        return None
