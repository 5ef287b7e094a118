"""A client's own onboarding steps: profile, insurance, billing method and form acknowledgements."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from tortoise.exceptions import IntegrityError

from models import Client, FormAcknowledgement, FormDocument
from resolvers import audit
from resolvers.accounts.email_change import request_email_change
from resolvers.actor import Actor, ClientActor
from resolvers.clients.checks import Checker, ClientChanges, InsuranceData, check_changes
from resolvers.clients.events import announce_client_change
from resolvers.clients.views import ClientView, account_of, client_view
from resolvers.errors import FieldProblem, InvalidInput, not_authenticated
from resolvers.names import search_fields
from resolvers.onboarding.billing import PaymentRejected, payment_processor
from resolvers.policies import require_client
from resolvers.ports import Services
from resolvers.unit_of_work import UnitOfWork, in_unit_of_work

MAX_FORM_IDS = 20


async def _own(actor: Actor | None) -> tuple[ClientActor, Client]:
    person = require_client(actor)
    client = await Client.get_or_none(id=person.client_id).select_related("user")
    if client is None:
        raise not_authenticated()
    return person, client


def _view(client: Client) -> ClientView:
    return client_view(client, None)


async def _save(
    services: Services,
    actor: Actor,
    client: Client,
    updates: dict[str, Any],
    action: str,
    *,
    new_email: str | None = None,
) -> ClientView:
    """Write the changed columns, the audit event and the live event in one transaction."""
    for name, value in updates.items():
        setattr(client, name, value)

    async def work(uow: UnitOfWork) -> None:
        if new_email is not None:
            await request_email_change(services, uow, account_of(client).id, new_email)
            await audit.record(
                actor, "client.email_change_request", client_id=client.id, conn=uow.conn
            )
        if updates:  # (a pending address alone changes nothing providers see)
            await client.save(update_fields=[*updates, "updated_at"], using_db=uow.conn)
            await audit.record(actor, action, client_id=client.id, conn=uow.conn)
            await announce_client_change(uow, client.id)

    await in_unit_of_work(services, work)
    return _view(client)


async def update_my_profile(
    services: Services, actor: Actor | None, changes: ClientChanges
) -> ClientView:
    """Names, phone and date of birth change at once; a new e-mail only once confirmed."""
    actor, client = await _own(actor)
    data = check_changes(changes, services.settings.phone_region)
    updates: dict[str, Any] = {}
    for name in ("legal_first_name", "legal_last_name", "date_of_birth"):
        if (value := getattr(data, name)) is not None:
            updates[name] = value
    if data.preferred_name is not None:
        updates["preferred_name"] = data.preferred_name or None
    if data.mobile_phone is not None:
        updates["mobile_phone"] = data.mobile_phone or None
    new_email = data.email if data.email and data.email != account_of(client).email else None
    if not updates and new_email is None:
        return _view(client)
    if updates:
        names = {
            "first": updates.get("legal_first_name", client.legal_first_name),
            "last": updates.get("legal_last_name", client.legal_last_name),
            "preferred": updates.get("preferred_name", client.preferred_name),
        }
        updates.update(search_fields(**names, email=account_of(client).email))
    return await _save(services, actor, client, updates, "client.self_update", new_email=new_email)


async def set_my_insurance(
    services: Services, actor: Actor | None, insurance: InsuranceData
) -> ClientView:
    actor, client = await _own(actor)
    check = Checker()
    checked = check.insurance("", insurance)
    check.raise_if_any()
    assert checked is not None
    updates = {
        "insurance_carrier": checked.carrier,
        "insurance_member_id": checked.member_id,
        "insurance_date_of_birth": checked.date_of_birth,
    }
    return await _save(services, actor, client, updates, "client.insurance_set")


async def add_my_billing_method(
    services: Services, actor: Actor | None, payment_token: str
) -> ClientView:
    """Hand the processor's one-time token over; keep only its reference, brand and last four."""
    actor, client = await _own(actor)
    token = (payment_token or "").strip()
    if not token:
        raise InvalidInput([FieldProblem("paymentToken", "is required")])
    processor = payment_processor(services.settings)
    try:
        card = await processor.attach(token)
    except PaymentRejected as rejected:
        raise InvalidInput(
            [FieldProblem("paymentToken", rejected.reason)],
            f"The payment method {rejected.reason}. Try another card.",
        ) from None
    updates = {
        "billing_processor": processor.name,
        "billing_token": card.reference,
        "billing_brand": card.brand,
        "billing_last4": card.last4,
    }
    return await _save(services, actor, client, updates, "client.billing_method_add")


def _parse_form_ids(raw_ids: list[str]) -> list[UUID]:
    if not raw_ids:
        raise InvalidInput([FieldProblem("documentIds", "name at least one form")])
    if len(raw_ids) > MAX_FORM_IDS:
        raise InvalidInput([FieldProblem("documentIds", f"at most {MAX_FORM_IDS} at a time")])
    ids: list[UUID] = []
    for raw in raw_ids:
        try:
            ids.append(UUID(str(raw)))
        except ValueError:
            raise InvalidInput([FieldProblem("documentIds", "holds an unknown form id")]) from None
    return list(dict.fromkeys(ids))


async def acknowledge_forms(
    services: Services, actor: Actor | None, document_ids: list[str]
) -> ClientView:
    """Record that the client read these form versions; only the current ones count."""
    actor, client = await _own(actor)
    ids = _parse_form_ids(document_ids)
    found = set(await FormDocument.filter(id__in=ids).values_list("id", flat=True))
    if len(found) != len(ids):
        raise InvalidInput([FieldProblem("documentIds", "holds an unknown form id")])

    async def work(uow: UnitOfWork) -> None:
        done = set(
            await FormAcknowledgement.filter(client_id=client.id, document_id__in=ids)
            .using_db(uow.conn)
            .values_list("document_id", flat=True)
        )
        for document_id in ids:
            if document_id not in done:
                await FormAcknowledgement.create(
                    client_id=client.id, document_id=document_id, using_db=uow.conn
                )
        await audit.record(actor, "client.forms_acknowledge", client_id=client.id, conn=uow.conn)
        await announce_client_change(uow, client.id)

    for _attempt in range(2):
        try:
            await in_unit_of_work(services, work)
            break
        except IntegrityError:
            continue  # the same acknowledgement from a second tab a moment ago: read again
    return _view(client)
