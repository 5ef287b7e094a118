"""Who may do what: the one place that checks roles and scopes queries by the actor."""

from __future__ import annotations

from dataclasses import fields
from typing import Any
from uuid import UUID

from tortoise.queryset import QuerySet

from models import Appointment, Message, MessageThread, ProviderClient
from resolvers.actor import Actor, ClientActor, PartyActor, ProviderActor, StaffActor
from resolvers.clients.views import ClientView
from resolvers.errors import NotFound, email_not_verified, forbidden, not_authenticated


def _fields(actor: Actor) -> dict[str, Any]:
    return {f.name: getattr(actor, f.name) for f in fields(Actor)}


def require_provider(actor: Actor | None) -> ProviderActor:
    if actor is None:
        raise not_authenticated()
    if isinstance(actor, ProviderActor):
        return actor
    if not actor.is_provider or actor.provider_id is None:
        raise forbidden("manage a client list")
    return ProviderActor(**_fields(actor))


def require_verified_provider(actor: Actor | None) -> ProviderActor:
    """A provider who confirmed their own e-mail: needed to store a client's data or mail them."""
    provider = require_provider(actor)
    if not provider.email_verified:
        raise email_not_verified()
    return provider


def require_client(actor: Actor | None) -> ClientActor:
    """A client acting on their own record: onboarding steps and profile."""
    if actor is None:
        raise not_authenticated()
    if isinstance(actor, ClientActor):
        return actor
    if not actor.is_client or actor.client_id is None:
        raise forbidden("change a client's own details; only the client can")
    return ClientActor(**_fields(actor))


def require_staff(actor: Actor | None) -> StaffActor:
    if actor is None:
        raise not_authenticated()
    if isinstance(actor, StaffActor):
        return actor
    if not actor.is_staff:
        raise forbidden("use staff tools")
    return StaffActor(**_fields(actor))


def party_or_none(actor: Actor | None) -> PartyActor | None:
    """The actor as a provider or a client, or None for anyone else (answered as "not found")."""
    if actor is None:
        return None
    if actor.is_provider:
        return require_provider(actor)
    if actor.is_client:
        return require_client(actor)
    return None


def require_party(actor: Actor | None) -> PartyActor:
    """A provider or a client: the two sides of appointments and conversations."""
    if actor is None:
        raise not_authenticated()
    party = party_or_none(actor)
    if party is None:
        raise forbidden("take part in conversations or appointments")
    return party


def takes_part_in(actor: Actor | None, thread: MessageThread) -> bool:
    """The row-level twin of `threads_visible_to`, for a thread already loaded."""
    party = party_or_none(actor)
    if isinstance(party, ProviderActor):
        return thread.provider_id == party.provider_id
    if isinstance(party, ClientActor):
        return thread.client_id == party.client_id
    return False


def links_visible_to(actor: Actor) -> QuerySet[ProviderClient]:
    """The client-list entries an actor may read: a provider's own list only."""
    if actor.is_provider:
        return ProviderClient.filter(provider_id=actor.provider_id)
    return ProviderClient.filter(id__in=[])


def invitations_visible_to(actor: Actor | None) -> QuerySet[ProviderClient]:
    """Whose invitations an actor may send again: a provider its own list's, staff anyone's."""
    if actor is None:
        raise not_authenticated()
    if actor.is_provider:
        return ProviderClient.filter(provider_id=actor.provider_id)
    if actor.is_staff:
        return ProviderClient.all()
    raise forbidden("send invitations")


def appointments_visible_to(actor: Actor) -> QuerySet[Appointment]:
    """A provider's own appointments, or a client's own."""
    if actor.is_provider:
        return Appointment.filter(provider_id=actor.provider_id)
    if actor.is_client:
        return Appointment.filter(client_id=actor.client_id)
    return Appointment.filter(id__in=[])


def threads_visible_to(actor: Actor) -> QuerySet[MessageThread]:
    """The conversations an actor takes part in, and no others."""
    if actor.is_provider:
        return MessageThread.filter(provider_id=actor.provider_id)
    if actor.is_client:
        return MessageThread.filter(client_id=actor.client_id)
    return MessageThread.filter(id__in=[])


def messages_visible_to(actor: Actor) -> QuerySet[Message]:
    if actor.is_provider:
        return Message.filter(thread__provider_id=actor.provider_id)
    if actor.is_client:
        return Message.filter(thread__client_id=actor.client_id)
    return Message.filter(id__in=[])


def parse_id(raw: str) -> UUID:
    """An id from the outside; garbage answers exactly like an unknown id."""
    try:
        return UUID(str(raw))
    except ValueError:
        raise NotFound() from None


async def visible_link(actor: Actor, client_id: str) -> ProviderClient:
    link = (
        await links_visible_to(actor)
        .get_or_none(client_id=parse_id(client_id))
        .select_related("client", "client__user")
    )
    if link is None:
        raise NotFound("No client with that id is on your list.")
    return link


CLIENT_MANAGES_OWN_INFO = (
    "This client verified their e-mail and accepted your invitation, so only they can "
    "change their information from their own account."
)
STAFF_READ_ONLY = "Staff tools are read-only: client information is changed by the client."


def edit_permission(actor: Actor | None, view: ClientView) -> str | None:
    """None when `actor` may edit what `view` shows, else the reason they may not.

    The person edits their own profile; a provider edits only its own entry, and only until
    the person accepted it; nobody else edits anything. `updateClient`, `updateMyProfile`
    and `Client.viewerCanEdit` all ask this one function.
    """
    if actor is None:
        return "Log in to change client information."
    if actor.is_client and view.link is None and view.client.id == actor.client_id:
        return None
    if actor.is_provider and view.link is not None and view.link.provider_id == actor.provider_id:
        return CLIENT_MANAGES_OWN_INFO if view.accepted else None
    if actor.is_staff:
        return STAFF_READ_ONLY
    return "Only the client can change this information."
