"""Putting clients on a provider's list: one by hand, or many at once."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from tortoise.exceptions import IntegrityError

from models import AddedVia, Client, ProviderClient, Role, User
from resolvers import audit
from resolvers.actor import Actor
from resolvers.client_events import announce_client_change
from resolvers.client_input import NewClient, check_new_client
from resolvers.errors import DomainError, FieldProblem, InvalidInput
from resolvers.names import search_fields
from resolvers.policies import require_verified_provider
from resolvers.ports import Services
from resolvers.unit_of_work import UnitOfWork, unit_of_work

MAX_BATCH = 100
INVITATION = "email.invitation"


@dataclass(frozen=True)
class ClientView:
    """A client as one provider's list holds it."""

    client: Client
    link: ProviderClient | None
    email: str
    email_verified: bool


@dataclass(frozen=True)
class AddedClient:
    view: ClientView
    already_in_list: bool
    linked_existing_account: bool


async def queue_invitation(uow: UnitOfWork, user_id: UUID) -> None:
    await uow.add_outbox(INVITATION, {"user_id": str(user_id)})


def _fill_blanks(client: Client, data: NewClient) -> list[str]:
    """An unverified client keeps what is there; the new provider only fills what is missing."""
    changed: list[str] = []
    if data.mobile_phone and not client.mobile_phone:
        client.mobile_phone = data.mobile_phone
        changed.append("mobile_phone")
    if data.preferred_name and not client.preferred_name:
        client.preferred_name = data.preferred_name
        changed.append("preferred_name")
    if data.insurance and not client.insurance_carrier:
        client.insurance_carrier = data.insurance.carrier
        client.insurance_member_id = data.insurance.member_id
        client.insurance_date_of_birth = data.insurance.date_of_birth
        changed += ["insurance_carrier", "insurance_member_id", "insurance_date_of_birth"]
    return changed


async def _new_account(uow: UnitOfWork, data: NewClient) -> Client:
    user = await User.create(email=data.email, role=Role.CLIENT, using_db=uow.conn)
    insurance = data.insurance
    return await Client.create(
        user=user,
        legal_first_name=data.first_name,
        legal_last_name=data.last_name,
        preferred_name=data.preferred_name,
        mobile_phone=data.mobile_phone,
        insurance_carrier=insurance.carrier if insurance else None,
        insurance_member_id=insurance.member_id if insurance else None,
        insurance_date_of_birth=insurance.date_of_birth if insurance else None,
        **search_fields(data.first_name, data.last_name, data.preferred_name, data.email),
        using_db=uow.conn,
    )


async def _add_checked(
    services: Services, actor: Actor, provider_id: UUID, data: NewClient
) -> AddedClient:
    async with unit_of_work(services) as uow:
        user = await User.get_or_none(email=data.email, using_db=uow.conn)
        linked = already = False
        if user is None:
            client = await _new_account(uow, data)
            user = await client.user
        elif user.role is not Role.CLIENT:
            raise InvalidInput(
                [FieldProblem("email", "belongs to an account that is not a client")]
            )
        else:
            client = await Client.get(user_id=user.id, using_db=uow.conn)
            linked = True
            if user.email_verified_at is None and (changed := _fill_blanks(client, data)):
                await client.save(update_fields=changed, using_db=uow.conn)
        link = await ProviderClient.get_or_none(
            provider_id=provider_id, client_id=client.id, using_db=uow.conn
        )
        if link is not None:
            already, linked = True, False
            if link.archived_at is not None:
                link.archived_at = None
                await link.save(update_fields=["archived_at"], using_db=uow.conn)
        else:
            link = await ProviderClient.create(
                provider_id=provider_id, client=client, added_via=AddedVia.MANUAL, using_db=uow.conn
            )
            await queue_invitation(uow, user.id)
        await audit.record(actor, "client.add", client_id=client.id, conn=uow.conn)
        await announce_client_change(uow, client.id)
    view = ClientView(client, link, user.email, user.email_verified_at is not None)
    return AddedClient(view=view, already_in_list=already, linked_existing_account=linked)


async def add_client(services: Services, actor: Actor | None, data: NewClient) -> AddedClient:
    provider_id = require_verified_provider(actor)
    assert actor is not None
    checked = check_new_client(data, services.settings.phone_region)
    try:
        return await _add_checked(services, actor, provider_id, checked)
    except IntegrityError:
        # Another request created the same account a moment ago: link to it instead.
        return await _add_checked(services, actor, provider_id, checked)


async def add_clients(
    services: Services, actor: Actor | None, items: list[NewClient]
) -> list[AddedClient | DomainError]:
    require_verified_provider(actor)
    if len(items) > MAX_BATCH:
        raise InvalidInput(
            [
                FieldProblem(
                    "clients", f"at most {MAX_BATCH} clients at a time; use an import for more"
                )
            ]
        )
    results: list[AddedClient | DomainError] = []
    for item in items:
        try:
            results.append(await add_client(services, actor, item))
        except DomainError as error:
            results.append(error)
    return results
