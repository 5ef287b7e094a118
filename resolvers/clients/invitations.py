"""Sending an invitation again: a provider for its own entries not yet accepted, staff for any."""

from __future__ import annotations

from resolvers import audit
from resolvers.actor import Actor
from resolvers.clients.adding import cancel_pending_invitation, queue_invitation
from resolvers.clients.views import ClientView, link_view
from resolvers.errors import InvalidState, NotFound, RateLimited
from resolvers.policies import invitations_visible_to, parse_id
from resolvers.ports import Services
from resolvers.unit_of_work import UnitOfWork, in_unit_of_work

RESENDS_PER_CLIENT_PER_HOUR = 5


async def resend_invitation(services: Services, actor: Actor | None, client_id: str) -> ClientView:
    """Queue a new invitation; its fresh link, made when it is sent, voids the older ones."""
    link = (
        await invitations_visible_to(actor)
        .filter(client_id=parse_id(client_id))
        .order_by("accepted_at")  # a pending entry first; an accepted person may have several
        .first()
        .select_related("client", "client__user")
    )
    if link is None:
        raise NotFound("No client with that id is on your list.")
    if link.accepted_at is not None:
        raise InvalidState(
            "This client already verified their e-mail and accepted the invitation, so they "
            "can log in; there is no invitation to send again."
        )
    if not await services.limiter.hit(
        f"invite:{link.id}", limit=RESENDS_PER_CLIENT_PER_HOUR, window_seconds=3600
    ):
        raise RateLimited("This invitation was sent several times this hour. Try again later.")

    async def work(uow: UnitOfWork) -> None:
        # One new e-mail, not one per click: a pending earlier copy is dropped (and the links
        # already sent keep working until the new one goes out and replaces them).
        await cancel_pending_invitation(uow, link, "superseded by a resend")
        await queue_invitation(uow, link)
        await audit.record(
            actor, "client.invitation_resend", client_id=link.client_id, conn=uow.conn
        )

    await in_unit_of_work(services, work)
    return link_view(link)
