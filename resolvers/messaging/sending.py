"""Sending messages and marking them read; a client who writes to a provider joins their list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from models import AddedVia, Client, Message, MessageThread, Provider, ProviderClient, Role
from resolvers import audit
from resolvers.actor import Actor, ClientActor, PartyActor, ProviderActor
from resolvers.clients.acceptance import accept_into
from resolvers.clients.views import account_of, client_view, link_view
from resolvers.effects import (
    ClientsChanged,
    EmailKind,
    MessagePosted,
    clients_channel,
    messages_channel,
)
from resolvers.errors import FieldProblem, InvalidInput, NotFound, RateLimited
from resolvers.messaging.threads import ThreadView, other_side, visible_thread
from resolvers.policies import parse_id, require_party, require_verified_provider, visible_link
from resolvers.ports import Services
from resolvers.unit_of_work import UnitOfWork
from resolvers.write_groups import in_grouped_unit_of_work

MAX_BODY = 5000
MESSAGES_PER_MINUTE = 20
NEW_CONVERSATIONS_PER_DAY = 20  # a client writing to many providers joins many lists
NOTIFY_EVERY = timedelta(minutes=15)


@dataclass(frozen=True)
class OutgoingMessage:
    """A provider names `client_id`; a client names `provider_id`."""

    body: str
    client_id: str | None = None
    provider_id: str | None = None


@dataclass(frozen=True)
class SentMessage:
    message: Message
    thread: ThreadView


def _checked_body(actor: Actor, data: OutgoingMessage) -> str:
    problems: list[FieldProblem] = []
    body = (data.body or "").strip()
    if not body:
        problems.append(FieldProblem("body", "write a message"))
    elif len(body) > MAX_BODY:
        problems.append(FieldProblem("body", f"must be at most {MAX_BODY} characters"))
    if actor.is_provider and not data.client_id:
        problems.append(FieldProblem("clientId", "name the client to write to"))
    if actor.is_client and not data.provider_id:
        problems.append(FieldProblem("providerId", "name the provider to write to"))
    if problems:
        raise InvalidInput(problems)
    return body


async def _throttle(services: Services, key: str, limit: int, window_seconds: int) -> None:
    if not await services.limiter.hit(key, limit=limit, window_seconds=window_seconds):
        raise RateLimited("You are sending messages too quickly. Wait a little and try again.")


async def _thread(
    uow: UnitOfWork, provider_id: UUID, client_id: UUID, now: datetime
) -> MessageThread:
    thread = await MessageThread.get_or_none(
        provider_id=provider_id, client_id=client_id, using_db=uow.conn
    )
    if thread is None:
        # A parallel first message makes the same pair: the unique pair raises, the caller retries.
        thread = await MessageThread.create(
            provider_id=provider_id, client_id=client_id, last_message_at=now, using_db=uow.conn
        )
    return thread


async def _post(
    uow: UnitOfWork, thread: MessageThread, actor: Actor, body: str, now: datetime
) -> Message:
    message = await Message.create(
        thread_id=thread.id,
        sender_role=actor.role,
        sender_user_id=actor.user_id,
        body=body,
        sent_at=now,
        using_db=uow.conn,
    )
    await (
        MessageThread.filter(id=thread.id, last_message_at__lt=now)
        .using_db(uow.conn)
        .update(last_message_at=now)
    )
    thread.last_message_at = max(thread.last_message_at, now)
    return message


async def _notify(
    uow: UnitOfWork, thread: MessageThread, recipient: Role, user_id: UUID, now: datetime
) -> None:
    """E-mail the recipient, at most once per thread per 15 minutes (claimed atomically)."""
    cutoff = now - NOTIFY_EVERY
    if recipient is Role.CLIENT:
        due = Q(client_notified_at__isnull=True) | Q(client_notified_at__lte=cutoff)
        stamp = {"client_notified_at": now}
    else:
        due = Q(provider_notified_at__isnull=True) | Q(provider_notified_at__lte=cutoff)
        stamp = {"provider_notified_at": now}
    claimed = await MessageThread.filter(due, id=thread.id).using_db(uow.conn).update(**stamp)
    if claimed:
        await uow.add_outbox(
            EmailKind.NEW_MESSAGE, {"user_id": str(user_id), "thread_id": str(thread.id)}
        )


def _announce(uow: UnitOfWork, message: Message, *user_ids: UUID) -> None:
    """Both parties' channels: the recipient, and the sender's other sessions."""
    for user_id in dict.fromkeys(user_ids):
        uow.publish(
            messages_channel(user_id), MessagePosted(str(message.id), str(message.thread_id))
        )


async def _put_on_list(uow: UnitOfWork, actor: Actor, provider_id: UUID, client: Client) -> None:
    """A client who messages a provider is on that provider's list, accepted and not archived.

    Writing to a provider is the person's consent: an entry the provider made for their address
    is accepted at once, exactly as if they had opened its invitation.
    """
    client_id, email = client.id, account_of(client).email
    link = await ProviderClient.get_or_none(
        provider_id=provider_id, client_id=client_id, using_db=uow.conn
    )
    if link is None:
        pending = await ProviderClient.get_or_none(
            provider_id=provider_id, email=email, accepted_at=None, using_db=uow.conn
        )
        if pending is not None:
            await accept_into(uow, pending, client)
            await (
                ProviderClient.filter(provider_id=provider_id, client_id=client_id)
                .using_db(uow.conn)
                .update(archived_at=None)
            )
            await audit.record(actor, "client.accept", client_id=client_id, conn=uow.conn)
            return
        await ProviderClient.create(
            provider_id=provider_id,
            client_id=client_id,
            email=email,
            added_via=AddedVia.MESSAGE,
            accepted_at=datetime.now(UTC),
            sort_name=client.sort_name,
            using_db=uow.conn,
        )
        action = "client.add"
    elif link.archived_at is not None:
        await ProviderClient.filter(id=link.id).using_db(uow.conn).update(archived_at=None)
        action = "client.unarchive"
    else:
        return
    await audit.record(actor, action, client_id=client_id, conn=uow.conn)
    uow.publish(clients_channel(provider_id), ClientsChanged.of(client_id))


async def _from_provider(
    services: Services, actor: ProviderActor, target: str, body: str
) -> SentMessage:
    """To a client on the provider's list; an archived one too (archiving only hides them)."""
    require_verified_provider(actor)
    link = await visible_link(actor, target)
    client = link.client
    provider = await Provider.get(id=link.provider_id)
    now = datetime.now(UTC)

    async def work(uow: UnitOfWork) -> tuple[MessageThread, Message]:
        thread = await _thread(uow, provider.id, client.id, now)
        message = await _post(uow, thread, actor, body, now)
        # an entry not accepted yet has no account to tell; the person reads it once accepted
        person = client.user if link.accepted_at is not None else None
        if person is not None:
            await _notify(uow, thread, Role.CLIENT, person.id, now)
        await audit.record(
            actor, "message.send", client_id=client.id, subject_id=message.id, conn=uow.conn
        )
        _announce(uow, message, *([person.id] if person else []), actor.user_id)
        return thread, message

    # safe to share a transaction (resolvers.write_groups): new rows, a unique pair per
    # thread, and conditional updates (the e-mail claim) that see each other's writes
    thread, message = await in_grouped_unit_of_work(services, work)
    return SentMessage(message, ThreadView(thread, link_view(link), provider))


async def _from_client(
    services: Services, actor: ClientActor, target: str, body: str
) -> SentMessage:
    """To any provider, which puts the client on (or back on) that provider's list."""
    provider = await Provider.get_or_none(id=parse_id(target)).select_related("user")
    if provider is None:
        raise NotFound("No provider with that id.")
    client = await Client.get(id=actor.client_id).select_related("user")
    if not await MessageThread.exists(provider_id=provider.id, client_id=client.id):
        await _throttle(
            services, f"messages:new:{actor.user_id}", NEW_CONVERSATIONS_PER_DAY, 24 * 3600
        )
    now = datetime.now(UTC)

    async def work(uow: UnitOfWork) -> tuple[MessageThread, Message]:
        await _put_on_list(uow, actor, provider.id, client)
        thread = await _thread(uow, provider.id, client.id, now)
        message = await _post(uow, thread, actor, body, now)
        await _notify(uow, thread, Role.PROVIDER, provider.user.id, now)
        await audit.record(
            actor, "message.send", client_id=client.id, subject_id=message.id, conn=uow.conn
        )
        _announce(uow, message, provider.user.id, actor.user_id)
        return thread, message

    # safe to share a transaction (resolvers.write_groups): new rows, a unique pair per
    # thread, and conditional updates (the e-mail claim) that see each other's writes
    thread, message = await in_grouped_unit_of_work(services, work)
    return SentMessage(message, ThreadView(thread, client_view(client, None), provider))


async def send_message(
    services: Services, actor: Actor | None, data: OutgoingMessage
) -> SentMessage:
    party = require_party(actor)
    body = _checked_body(party, data)
    await _throttle(services, f"messages:{party.user_id}", MESSAGES_PER_MINUTE, 60)
    try:
        return await _send(services, party, data, body)
    except IntegrityError:
        # A parallel message created the same thread or list entry a moment ago.
        return await _send(services, party, data, body)


async def _send(
    services: Services, party: PartyActor, data: OutgoingMessage, body: str
) -> SentMessage:
    if isinstance(party, ProviderActor):
        assert data.client_id is not None  # _checked_body refused a message without one
        return await _from_provider(services, party, data.client_id, body)
    assert data.provider_id is not None
    return await _from_client(services, party, data.provider_id, body)


async def mark_thread_read(actor: Actor | None, thread_id: str) -> ThreadView:
    """Everything the other side wrote in this thread counts as read by the viewer now."""
    party = require_party(actor)
    view = await visible_thread(party, thread_id)
    await Message.filter(
        thread_id=view.thread.id, read_at=None, sender_role=other_side(party.role)
    ).update(read_at=datetime.now(UTC))
    return view
