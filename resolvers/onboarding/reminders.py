"""Onboarding reminders: who is due one, each claimed so no interval is e-mailed twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from tortoise.expressions import Q, Subquery
from tortoise.functions import Count

from caseload.settings import Settings
from models import Client, FormAcknowledgement, ProviderClient
from resolvers.effects import EmailKind
from resolvers.onboarding.steps import clients_with_current_forms, current_form_ids, state_of
from resolvers.ports import Services
from resolvers.unit_of_work import UnitOfWork, in_unit_of_work

BATCH = 200


def due_before(settings: Settings, sent: int, now: datetime) -> datetime:
    """Reminder number sent+1 is due once the invitation is older than this."""
    days = settings.reminder_first_days + sent * settings.reminder_every_days
    return now - timedelta(days=days)


async def _maybe_complete() -> Q:
    """Clients that look complete in SQL, so finished clients are not scanned every hour."""
    form_ids = await current_form_ids()
    if not form_ids:
        return Q(id__in=[])
    acknowledged_all = Subquery(
        FormAcknowledgement.filter(document_id__in=form_ids)
        .group_by("client_id")
        .annotate(n=Count("id"))
        .filter(n=len(form_ids))
        .values("client_id")
    )
    return Q(
        user__email_verified_at__isnull=False,
        insurance_carrier__isnull=False,
        billing_token__isnull=False,
        id__in=acknowledged_all,
    )


async def _batch(
    settings: Settings, sent: int, now: datetime, after: UUID | None, complete: Q
) -> list[Client]:
    query = Client.filter(
        ~complete,
        reminders_sent=sent,
        invited_at__lte=due_before(settings, sent, now),
        # a client archived on every list is not nagged
        id__in=Subquery(ProviderClient.filter(archived_at__isnull=True).values("client_id")),
    )
    if after is not None:
        query = query.filter(id__gt=after)
    return await query.order_by("id").limit(BATCH).select_related("user")


async def _claim(services: Services, client: Client, sent: int) -> bool:
    """Count the reminder and write its e-mail together; a second worker's UPDATE matches nothing.

    A list entry nobody accepted yet has no account: its reminder goes to the entry's address,
    with a fresh link to accept it.
    """

    async def work(uow: UnitOfWork) -> bool:
        won = (
            await Client.filter(id=client.id, reminders_sent=sent)
            .using_db(uow.conn)
            .update(reminders_sent=sent + 1)
        )
        if won != 1:
            return False
        if client.user is None:
            link = await ProviderClient.get_or_none(client_id=client.id, using_db=uow.conn)
            if link is None or link.accepted_at is not None:
                return False
            subject = {"record_id": str(link.id)}
        else:
            subject = {"user_id": str(client.user.id)}
        await uow.add_outbox(EmailKind.ONBOARDING_REMINDER, {**subject, "reminder": sent + 1})
        return True

    return await in_unit_of_work(services, work)


async def queue_due_reminders(services: Services, *, now: datetime | None = None) -> int:
    """E-mail every invited client whose onboarding is incomplete and whose next reminder is due."""
    settings = services.settings
    now = now or datetime.now(UTC)
    complete = await _maybe_complete()
    queued = 0
    # Highest count first: a client claimed here moves to a count already done this run,
    # so one run never sends the same client two reminders.
    for sent in reversed(range(settings.reminder_max)):
        after: UUID | None = None
        while batch := await _batch(settings, sent, now, after, complete):
            forms_done = await clients_with_current_forms(c.id for c in batch)
            for client in batch:
                verified = client.user is not None and client.user.email_verified_at is not None
                state = state_of(client, verified, client.id in forms_done)
                if not state.complete and await _claim(services, client, sent):
                    queued += 1
            if len(batch) < BATCH:
                break
            after = batch[-1].id
    return queued
