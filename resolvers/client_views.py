"""A client as each viewer sees them: with the viewing provider's list entry, or as themselves."""

from __future__ import annotations

from uuid import UUID

from models import Client, ProviderClient
from resolvers.actor import Actor
from resolvers.clients import ClientView


def link_view(link: ProviderClient) -> ClientView:
    """A client as the provider owning `link` sees it; `link.client.user` must be loaded."""
    return client_view(link.client, link)


def client_view(client: Client, link: ProviderClient | None) -> ClientView:
    """`client.user` must be loaded; `link` is the viewing provider's entry, None for the client."""
    user = client.user
    return ClientView(client, link, user.email, user.email_verified_at is not None)


async def links_of(actor: Actor, client_ids: set[UUID]) -> dict[UUID, ProviderClient]:
    """The viewing provider's list entries for these clients, in one query."""
    if not actor.is_provider or not client_ids:
        return {}
    links = await ProviderClient.filter(provider_id=actor.provider_id, client_id__in=client_ids)
    return {link.client_id: link for link in links}
