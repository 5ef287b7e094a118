"""Who may see which client: the one place that scopes queries by the actor."""

from __future__ import annotations

from uuid import UUID

from tortoise.queryset import QuerySet

from models import Appointment, Message, MessageThread, ProviderClient
from resolvers.actor import Actor
from resolvers.client_views import ClientView
from resolvers.errors import NotFound, email_not_verified, forbidden, not_authenticated


def require_provider(actor: Actor | None) -> UUID:
    if actor is None:
        raise not_authenticated()
    if not actor.is_provider or actor.provider_id is None:
        raise forbidden("manage a client list")
    return actor.provider_id


def require_verified_provider(actor: Actor | None) -> UUID:
    """A provider who confirmed their own e-mail: needed to store a client's data or mail them."""
    provider_id = require_provider(actor)
    assert actor is not None
    if not actor.email_verified:
        raise email_not_verified()
    return provider_id


def require_client(actor: Actor | None) -> UUID:
    """A client acting on their own record: onboarding steps and profile."""
    if actor is None:
        raise not_authenticated()
    if not actor.is_client or actor.client_id is None:
        raise forbidden("change a client's own details; only the client can")
    return actor.client_id


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


def require_party(actor: Actor | None) -> Actor:
    """A provider or a client: the two sides of appointments and conversations."""
    if actor is None:
        raise not_authenticated()
    if not (actor.is_provider or actor.is_client):
        raise forbidden("take part in conversations or appointments")
    return actor


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
