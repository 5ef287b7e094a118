"""Who may see which client: the one place that scopes queries by the actor."""

from __future__ import annotations

from uuid import UUID

from tortoise.queryset import QuerySet

from models import ProviderClient
from resolvers.actor import Actor
from resolvers.errors import NotFound, forbidden, not_authenticated


def require_provider(actor: Actor | None) -> UUID:
    if actor is None:
        raise not_authenticated()
    if not actor.is_provider or actor.provider_id is None:
        raise forbidden("manage a client list")
    return actor.provider_id


def links_visible_to(actor: Actor) -> QuerySet[ProviderClient]:
    """The client-list entries an actor may read: a provider's own list only."""
    if actor.is_provider:
        return ProviderClient.filter(provider_id=actor.provider_id)
    return ProviderClient.filter(id__in=[])


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
