"""Sending an invitation again: a provider for their own unverified clients, staff for anyone."""

from __future__ import annotations

from models import Client, OutboxMessage, OutboxStatus, ProviderClient
from resolvers import audit
from resolvers.accounts import RateLimited
from resolvers.actor import Actor
from resolvers.clients import INVITATION, ClientView, queue_invitation
from resolvers.errors import InvalidState, NotFound, forbidden, not_authenticated
from resolvers.policies import parse_id, visible_link
from resolvers.ports import Services
from resolvers.unit_of_work import unit_of_work

RESENDS_PER_CLIENT_PER_HOUR = 5


async def _target(actor: Actor, client_id: str) -> tuple[Client, ProviderClient | None]:
    if actor.is_provider:
        link = await visible_link(actor, client_id)
        if link.client.user.email_verified_at is not None:
            raise InvalidState(
                "This client has already verified their e-mail and can log in; "
                "there is no invitation to send again."
            )
        return link.client, link
    if actor.is_staff:
        client = await Client.get_or_none(id=parse_id(client_id)).select_related("user")
        if client is None:
            raise NotFound()
        return client, None
    raise forbidden("send invitations")


async def resend_invitation(services: Services, actor: Actor | None, client_id: str) -> ClientView:
    """Queue a new invitation; its fresh link, made when it is sent, voids the older ones."""
    if actor is None:
        raise not_authenticated()
    client, link = await _target(actor, client_id)
    if not await services.limiter.hit(
        f"invite:{client.id}", limit=RESENDS_PER_CLIENT_PER_HOUR, window_seconds=3600
    ):
        raise RateLimited("This invitation was sent several times this hour. Try again later.")
    user = client.user
    async with unit_of_work(services) as uow:
        # One new e-mail, not one per click: a pending earlier copy is dropped.
        await (
            OutboxMessage.filter(kind=INVITATION, subject_id=user.id, status=OutboxStatus.PENDING)
            .using_db(uow.conn)
            .update(status=OutboxStatus.CANCELLED, last_error="superseded by a resend")
        )
        await queue_invitation(uow, user.id)
        await audit.record(actor, "client.invitation_resend", client_id=client.id, conn=uow.conn)
    return ClientView(client, link, user.email, user.email_verified_at is not None)
