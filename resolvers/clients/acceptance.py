"""A person accepting a provider's list entry: the only way a provider comes to see their data.

Before acceptance the entry has its own profile, holding what the provider entered. Accepting
it into a new account makes that profile the person's own; accepting it into an account that
already exists moves the entry's appointments and conversation onto the person's profile and
drops the entry's copy, since from then on the provider sees what the person keeps.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from models import Appointment, Client, Message, MessageThread, ProviderClient
from resolvers.clients.adding import withdraw_invitation
from resolvers.clients.events import announce_client_change
from resolvers.effects import ClientsChanged, clients_channel
from resolvers.unit_of_work import UnitOfWork


async def _move_thread(uow: UnitOfWork, link: ProviderClient, to_client: UUID) -> None:
    conn = uow.conn
    entry_thread = await MessageThread.get_or_none(
        provider_id=link.provider_id, client_id=link.client_id, using_db=conn
    )
    if entry_thread is None:
        return
    person_thread = await MessageThread.get_or_none(
        provider_id=link.provider_id, client_id=to_client, using_db=conn
    )
    if person_thread is None:
        entry_thread.client_id = to_client
        await entry_thread.save(update_fields=["client_id"], using_db=conn)
        return
    # one conversation per pair: the entry's messages join the person's
    await (
        Message.filter(thread_id=entry_thread.id).using_db(conn).update(thread_id=person_thread.id)
    )
    if entry_thread.last_message_at > person_thread.last_message_at:
        person_thread.last_message_at = entry_thread.last_message_at
        await person_thread.save(update_fields=["last_message_at"], using_db=conn)
    await entry_thread.delete(using_db=conn)


async def accept_into_new_account(uow: UnitOfWork, link: ProviderClient, user_id: UUID) -> None:
    """The entry's profile becomes the new account's own (the provider's id stays the same)."""
    now = datetime.now(UTC)
    await Client.filter(id=link.client_id, user_id=None).using_db(uow.conn).update(user_id=user_id)
    await ProviderClient.filter(id=link.id).using_db(uow.conn).update(accepted_at=now)
    await withdraw_invitation(uow, link, "invitation accepted")
    await announce_client_change(uow, link.client_id)


async def accept_into(uow: UnitOfWork, link: ProviderClient, person: Client) -> UUID:
    """Accept `link` for the person whose own profile is `person`; the client id it now shows."""
    conn = uow.conn
    now = datetime.now(UTC)
    await withdraw_invitation(uow, link, "invitation accepted")
    if link.client_id == person.id:
        await (
            ProviderClient.filter(id=link.id, accepted_at=None)
            .using_db(conn)
            .update(accepted_at=now)
        )
        return person.id
    entry_profile = link.client_id
    await Appointment.filter(client_id=entry_profile).using_db(conn).update(client_id=person.id)
    await _move_thread(uow, link, person.id)
    existing = await ProviderClient.get_or_none(
        provider_id=link.provider_id, client_id=person.id, using_db=conn
    )
    if existing is not None:
        # the person was on this list already (they wrote first): one entry is enough
        await ProviderClient.filter(id=link.id).using_db(conn).delete()
        if existing.accepted_at is None or existing.archived_at is not None:
            await (
                ProviderClient.filter(id=existing.id)
                .using_db(conn)
                .update(accepted_at=existing.accepted_at or now, archived_at=None)
            )
    else:
        await (
            ProviderClient.filter(id=link.id)
            .using_db(conn)
            .update(client_id=person.id, accepted_at=now)
        )
    await Client.filter(id=entry_profile, user_id=None).using_db(conn).delete()
    await announce_client_change(uow, person.id)
    # the entry's old id is gone from the provider's list; its subscribers hear of it
    uow.publish(clients_channel(link.provider_id), ClientsChanged.of(entry_profile))
    return person.id
