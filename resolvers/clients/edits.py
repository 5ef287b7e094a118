"""A provider's edits of its own list entry (only until the person accepted it), and archiving."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from models import (
    ProviderClient,
)
from resolvers import audit
from resolvers.actor import Actor
from resolvers.clients.adding import queue_invitation, withdraw_invitation
from resolvers.clients.checks import ClientChanges, check_changes
from resolvers.clients.events import announce_client_change
from resolvers.clients.views import ClientView, link_view
from resolvers.effects import ClientsChanged, clients_channel
from resolvers.errors import EditLocked, EmailTaken, FieldProblem
from resolvers.names import search_fields
from resolvers.policies import (
    CLIENT_MANAGES_OWN_INFO,
    edit_permission,
    require_provider,
    visible_link,
)
from resolvers.ports import Services
from resolvers.unit_of_work import UnitOfWork, in_unit_of_work


async def _readdress(uow: UnitOfWork, link: ProviderClient, email: str) -> None:
    """The entry's invitation goes to the new address instead; no account changes."""
    link.email = email
    try:
        await link.save(update_fields=["email"], using_db=uow.conn)
    except IntegrityError:
        raise EmailTaken([FieldProblem("email", "is already on your client list")]) from None
    await withdraw_invitation(uow, link, "e-mail changed")
    await queue_invitation(uow, link)


def _updates(changes: ClientChanges) -> dict[str, Any]:
    updates: dict[str, Any] = {}
    for name in ("legal_first_name", "legal_last_name", "date_of_birth"):
        if (value := getattr(changes, name)) is not None:
            updates[name] = value
    if changes.preferred_name is not None:
        updates["preferred_name"] = changes.preferred_name or None
    if changes.mobile_phone is not None:
        updates["mobile_phone"] = changes.mobile_phone or None
    if changes.insurance is not None:
        updates["insurance_carrier"] = changes.insurance.carrier
        updates["insurance_member_id"] = changes.insurance.member_id
        updates["insurance_date_of_birth"] = changes.insurance.date_of_birth
    return updates


async def update_client(
    services: Services, actor: Actor | None, client_id: str, changes: ClientChanges
) -> ClientView:
    provider = require_provider(actor)
    link = await visible_link(provider, client_id)
    if (reason := edit_permission(provider, link_view(link))) is not None:
        raise EditLocked(reason)
    data = check_changes(changes, services.settings.phone_region)
    updates = _updates(data)
    client = link.client

    async def work(uow: UnitOfWork) -> None:
        # An acceptance that lands between our read and this write locks the edit out.
        fresh = await ProviderClient.filter(id=link.id).using_db(uow.conn).select_for_update().get()
        if fresh.accepted_at is not None:
            raise EditLocked(CLIENT_MANAGES_OWN_INFO)
        if data.email is not None and data.email != link.email:
            await _readdress(uow, link, data.email)
        changed = dict(updates)
        for name, value in changed.items():
            setattr(client, name, value)
        changed.update(
            search_fields(
                client.legal_first_name, client.legal_last_name, client.preferred_name, link.email
            )
        )
        for name, value in changed.items():
            setattr(client, name, value)
        await client.save(update_fields=[*changed, "updated_at"], using_db=uow.conn)
        await audit.record(provider, "client.update", client_id=client.id, conn=uow.conn)
        await announce_client_change(uow, client.id)

    await in_unit_of_work(services, work)
    return link_view(link)


async def set_archived(
    services: Services, actor: Actor | None, client_id: str, archived: bool
) -> ClientView:
    provider = require_provider(actor)
    link = await visible_link(provider, client_id)
    wanted = datetime.now(UTC) if archived else None
    if (link.archived_at is None) == (wanted is None):
        return link_view(link)  # already so: harmless

    async def work(uow: UnitOfWork) -> None:
        link.archived_at = wanted
        await link.save(update_fields=["archived_at"], using_db=uow.conn)
        action = "client.archive" if archived else "client.unarchive"
        await audit.record(provider, action, client_id=link.client_id, conn=uow.conn)
        uow.publish(clients_channel(link.provider_id), ClientsChanged.of(link.client_id))

    await in_unit_of_work(services, work)
    return link_view(link)
