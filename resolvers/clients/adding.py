"""Putting clients on a provider's list: one by hand, or many at once.

Adding an address never looks at accounts: it makes the provider's own entry (DESIGN §3,
"Consent, not look-up"), so the answer is the same whether or not the address has one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError

from models import (
    AddedVia,
    AuditEvent,
    Client,
    OutboxMessage,
    OutboxStatus,
    ProviderClient,
    VerificationPurpose,
    VerificationToken,
)
from resolvers.actor import Actor
from resolvers.clients.checks import NewClient, check_new_client
from resolvers.clients.events import announce_clients_change
from resolvers.clients.views import ClientView, link_view
from resolvers.effects import ClientsChanged, EmailKind, clients_channel
from resolvers.errors import DomainError, FieldProblem, InvalidInput
from resolvers.imports.campaigns import Settled, record_settled
from resolvers.names import search_fields
from resolvers.policies import require_verified_provider
from resolvers.ports import Services
from resolvers.unit_of_work import UnitOfWork
from resolvers.write_groups import in_grouped_unit_of_work

__all__ = ["AddedClient", "ClientView", "add_client", "add_clients"]

MAX_BATCH = 100


@dataclass(frozen=True)
class AddedClient:
    view: ClientView
    already_in_list: bool
    # never true: whether an address has an account is not revealed (kept for the contract)
    linked_existing_account: bool = False


async def cancel_pending_invitation(uow: UnitOfWork, link: ProviderClient, reason: str) -> None:
    """A queued copy of the entry's invitation is not sent (nor still due in its import)."""
    earlier = OutboxMessage.filter(
        kind=EmailKind.INVITATION, subject_id=link.id, status=OutboxStatus.PENDING
    ).using_db(uow.conn)
    settled = Settled.empty()
    for import_id in await earlier.filter(import_id__isnull=False).values_list(
        "import_id", flat=True
    ):
        settled.cancelled[str(import_id)] += 1  # no longer due in that import's campaign
    await earlier.update(status=OutboxStatus.CANCELLED, last_error=reason)
    await record_settled(uow.conn, settled)


async def withdraw_invitation(uow: UnitOfWork, link: ProviderClient, reason: str) -> None:
    """The entry's links stop working and a queued copy of its e-mail is not sent."""
    await (
        VerificationToken.filter(
            record_id=link.id, purpose=VerificationPurpose.INVITATION, used_at=None, revoked_at=None
        )
        .using_db(uow.conn)
        .update(revoked_at=datetime.now(UTC))
    )
    await cancel_pending_invitation(uow, link, reason)


async def queue_invitation(uow: UnitOfWork, link: ProviderClient) -> None:
    """The entry's invitation e-mail; its link, made when it is sent, accepts this entry only."""
    now = datetime.now(UTC)
    link.invitation_queued_at, link.invitation_failed_at = now, None
    await (
        ProviderClient.filter(id=link.id)
        .using_db(uow.conn)
        .update(invitation_queued_at=now, invitation_failed_at=None)
    )
    await uow.add_outbox(EmailKind.INVITATION, {"record_id": str(link.id)})


def _new_entry(provider_id: object, data: NewClient, now: datetime) -> ProviderClient:
    """The provider's entry and its own profile, holding exactly what the provider entered,
    with its invitation queued (not saved yet)."""
    insurance = data.insurance
    client = Client(
        user=None,
        legal_first_name=data.first_name,
        legal_last_name=data.last_name,
        preferred_name=data.preferred_name,
        mobile_phone=data.mobile_phone,
        insurance_carrier=insurance.carrier if insurance else None,
        insurance_member_id=insurance.member_id if insurance else None,
        insurance_date_of_birth=insurance.date_of_birth if insurance else None,
        **search_fields(data.first_name, data.last_name, data.preferred_name, data.email),
    )
    link = ProviderClient(
        provider_id=provider_id,
        client_id=client.id,
        email=data.email,
        added_via=AddedVia.MANUAL,
        sort_name=client.sort_name,
        invitation_queued_at=now,
        invitation_failed_at=None,
    )
    link.client = client
    return link


async def _add_in(
    uow: UnitOfWork, actor: Actor, provider_id: object, items: list[NewClient]
) -> list[AddedClient]:
    """Every item in the same few statements, however many: a batch of 100 holds SQLite's
    one write lock (and the API's one writing connection) for a few statements, not 700."""
    now = datetime.now(UTC)
    emails = list(dict.fromkeys(data.email for data in items))
    on_list = {
        link.email: link
        for link in await ProviderClient.filter(provider_id=provider_id, email__in=emails)
        .using_db(uow.conn)
        .select_related("client", "client__user")
    }
    answers: list[AddedClient] = []
    new: list[ProviderClient] = []
    unarchived: list[ProviderClient] = []
    for data in items:
        link = on_list.get(data.email)
        if link is None:
            # a second item with the same address answers as already on the list
            link = on_list[data.email] = _new_entry(provider_id, data, now)
            new.append(link)
            answers.append(AddedClient(view=link_view(link), already_in_list=False))
            continue
        if link.archived_at is not None:
            link.archived_at = None
            unarchived.append(link)
        answers.append(AddedClient(view=link_view(link), already_in_list=True))
    if new:
        await Client.bulk_create([link.client for link in new], using_db=uow.conn)
        await ProviderClient.bulk_create(new, using_db=uow.conn)
        invitations = [
            OutboxMessage(
                kind=EmailKind.INVITATION,
                payload={"record_id": str(link.id)},
                subject_id=link.id,
                available_at=now,
            )
            for link in new
        ]
        await OutboxMessage.bulk_create(invitations, using_db=uow.conn)
        uow.outbox.extend(invitations)
    if unarchived:
        await (
            ProviderClient.filter(id__in=[link.id for link in unarchived])
            .using_db(uow.conn)
            .update(archived_at=None)
        )
    await AuditEvent.bulk_create(
        [
            AuditEvent(
                actor_id=actor.user_id,
                actor_role=actor.role.value,
                action="client.add",
                client_id=answer.view.client.id,
            )
            for answer in answers
        ],
        using_db=uow.conn,
    )
    # a new entry's profile is on this list only; one already there may be on others too
    if new:
        ids = [link.client_id for link in new]
        uow.publish(clients_channel(str(provider_id)), ClientsChanged.of(*ids))
    await announce_clients_change(uow, [a.view.client.id for a in answers if a.already_in_list])
    return answers


async def _add_all(
    services: Services, actor: Actor, provider_id: object, items: list[NewClient]
) -> list[AddedClient]:
    """Every item in one transaction: all of them are on the list afterwards, or none.

    The transaction may be shared with other requests' additions (resolvers.write_groups):
    each writes rows of its own, and the same address added twice at once fails a constraint.
    """

    async def work(uow: UnitOfWork) -> list[AddedClient]:
        return await _add_in(uow, actor, provider_id, items) if items else []

    try:
        return await in_grouped_unit_of_work(services, work)
    except IntegrityError:
        # The same address went on this list a moment ago, in a parallel request: now it is
        # already there, and this run says so.
        return await in_grouped_unit_of_work(services, work)


async def add_client(services: Services, actor: Actor | None, data: NewClient) -> AddedClient:
    provider = require_verified_provider(actor)
    checked = check_new_client(data, services.settings.phone_region)
    [added] = await _add_all(services, provider, provider.provider_id, [checked])
    return added


async def add_clients(
    services: Services, actor: Actor | None, items: list[NewClient]
) -> list[AddedClient | DomainError]:
    """Each item answers for itself, in order: added, already on the list, or why not.

    The items that pass their checks are written in one transaction, so a failure part way
    leaves none of them half-saved, and a second item with an address seen earlier in the
    same request answers as already on the list.
    """
    provider = require_verified_provider(actor)
    if len(items) > MAX_BATCH:
        raise InvalidInput(
            [
                FieldProblem(
                    "clients", f"at most {MAX_BATCH} clients at a time; use an import for more"
                )
            ]
        )
    refused: dict[int, DomainError] = {}
    valid: list[NewClient] = []
    for index, item in enumerate(items):
        try:
            valid.append(check_new_client(item, services.settings.phone_region))
        except DomainError as error:
            refused[index] = error
    added = iter(await _add_all(services, provider, provider.provider_id, valid))
    return [refused[i] if i in refused else next(added) for i in range(len(items))]
