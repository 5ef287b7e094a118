"""A provider's edits of a client (only while unverified), archiving and un-archiving."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from models import OutboxMessage, OutboxStatus, ProviderClient, User, VerificationPurpose
from resolvers import audit
from resolvers.actor import Actor
from resolvers.client_events import announce_client_change
from resolvers.client_input import ClientChanges, check_changes
from resolvers.clients import INVITATION, ClientView, queue_invitation
from resolvers.errors import EditLocked, FieldProblem, InvalidInput
from resolvers.names import search_fields
from resolvers.policies import require_provider, visible_link
from resolvers.ports import Services
from resolvers.unit_of_work import UnitOfWork, unit_of_work
from resolvers.verification import revoke_tokens

EDIT_LOCKED_REASON = (
    "This client has verified their e-mail, so only they can change their information "
    "from their own account."
)


def edit_locked_reason(email_verified: bool) -> str | None:
    return EDIT_LOCKED_REASON if email_verified else None


def _view(link: ProviderClient, user: User) -> ClientView:
    return ClientView(link.client, link, user.email, user.email_verified_at is not None)


async def _change_email(uow: UnitOfWork, user: User, email: str) -> None:
    """The old invitation stops working and a new one goes to the new address."""
    user.email = email
    try:
        await user.save(update_fields=["email"], using_db=uow.conn)
    except IntegrityError:
        error = InvalidInput([FieldProblem("email", "already belongs to another account")])
        error.code = "EMAIL_TAKEN"
        raise error from None
    await revoke_tokens(user.id, VerificationPurpose.VERIFY_EMAIL, uow.conn)
    await (
        OutboxMessage.filter(kind=INVITATION, subject_id=user.id, status=OutboxStatus.PENDING)
        .using_db(uow.conn)
        .update(status=OutboxStatus.CANCELLED, last_error="e-mail changed")
    )
    await queue_invitation(uow, user.id)


async def update_client(
    services: Services, actor: Actor | None, client_id: str, changes: ClientChanges
) -> ClientView:
    require_provider(actor)
    assert actor is not None
    link = await visible_link(actor, client_id)
    user: User = link.client.user
    if user.email_verified_at is not None:
        raise EditLocked(EDIT_LOCKED_REASON)
    data = check_changes(changes, services.settings.phone_region)
    client = link.client
    updates: dict[str, Any] = {}
    for name in ("legal_first_name", "legal_last_name", "date_of_birth"):
        if (value := getattr(data, name)) is not None:
            updates[name] = value
    if data.preferred_name is not None:
        updates["preferred_name"] = data.preferred_name or None
    if data.mobile_phone is not None:
        updates["mobile_phone"] = data.mobile_phone or None
    if data.insurance is not None:
        updates["insurance_carrier"] = data.insurance.carrier
        updates["insurance_member_id"] = data.insurance.member_id
        updates["insurance_date_of_birth"] = data.insurance.date_of_birth
    async with unit_of_work(services) as uow:
        # Lock out a verification that lands between our read and this write.
        fresh = await User.filter(id=user.id).using_db(uow.conn).select_for_update().get()
        if fresh.email_verified_at is not None:
            raise EditLocked(EDIT_LOCKED_REASON)
        if data.email is not None and data.email != user.email:
            await _change_email(uow, user, data.email)
        for name, value in updates.items():
            setattr(client, name, value)
        updates.update(
            search_fields(
                client.legal_first_name, client.legal_last_name, client.preferred_name, user.email
            )
        )
        for name, value in updates.items():
            setattr(client, name, value)
        await client.save(update_fields=[*updates, "updated_at"], using_db=uow.conn)
        await audit.record(actor, "client.update", client_id=client.id, conn=uow.conn)
        await announce_client_change(uow, client.id)
    return _view(link, user)


async def set_archived(
    services: Services, actor: Actor | None, client_id: str, archived: bool
) -> ClientView:
    require_provider(actor)
    assert actor is not None
    link = await visible_link(actor, client_id)
    wanted = datetime.now(UTC) if archived else None
    if (link.archived_at is None) == (wanted is None):
        return _view(link, link.client.user)  # already so: harmless
    async with unit_of_work(services) as uow:
        link.archived_at = wanted
        await link.save(update_fields=["archived_at"], using_db=uow.conn)
        action = "client.archive" if archived else "client.unarchive"
        await audit.record(actor, action, client_id=link.client_id, conn=uow.conn)
        uow.publish(f"provider-clients:{link.provider_id}", {"client_id": str(link.client_id)})
    return _view(link, link.client.user)
