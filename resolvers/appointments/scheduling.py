"""Scheduling, confirming and cancelling appointments; confirming needs complete onboarding."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.expressions import Q

from models import Appointment, AppointmentStatus, Client, Provider
from resolvers import audit
from resolvers.actor import Actor
from resolvers.clients.views import ClientView, link_view
from resolvers.clients.views import onboarding_of as view_onboarding
from resolvers.effects import EmailKind
from resolvers.errors import (
    ErrorCode,
    FieldProblem,
    InvalidInput,
    InvalidState,
    NotFound,
    OnboardingIncomplete,
)
from resolvers.onboarding.steps import OnboardingState, clients_with_current_forms, state_of
from resolvers.policies import (
    appointments_visible_to,
    parse_id,
    require_provider,
    require_verified_provider,
    visible_link,
)
from resolvers.ports import Services
from resolvers.unit_of_work import UnitOfWork, in_unit_of_work

MAX_LENGTH = timedelta(hours=8)
INSURANCE_REQUEST_EVERY = timedelta(days=1)
BUSY = (AppointmentStatus.SCHEDULED, AppointmentStatus.CONFIRMED)


@dataclass(frozen=True)
class NewAppointment:
    client_id: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class AppointmentView:
    appointment: Appointment
    client: ClientView
    provider: Provider


def as_utc(value: datetime) -> datetime:
    """A time from the outside; one without an offset is read as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def check_times(starts_at: datetime, ends_at: datetime) -> tuple[datetime, datetime]:
    start, end = as_utc(starts_at), as_utc(ends_at)
    if end <= start:
        raise InvalidInput([FieldProblem("endsAt", "must be after startsAt")])
    if end - start > MAX_LENGTH:
        raise InvalidInput([FieldProblem("endsAt", "must be at most 8 hours after startsAt")])
    return start, end


def client_archived() -> InvalidState:
    return InvalidState(
        "This client is archived. Unarchive them to schedule or confirm appointments.",
        code=ErrorCode.CLIENT_ARCHIVED,
    )


async def _request_insurance(uow: UnitOfWork, client: Client, now: datetime) -> None:
    """Ask a client without insurance for it; the timestamp claim keeps it to one a day.

    An entry nobody accepted yet has no account to ask: its invitation covers insurance.
    """
    if client.user is None:
        return
    if state_of(client, email_verified=False, forms_acknowledged=False).insurance_added:
        return
    claimed = (
        await Client.filter(
            Q(insurance_requested_at__isnull=True)
            | Q(insurance_requested_at__lte=now - INSURANCE_REQUEST_EVERY),
            id=client.id,
        )
        .using_db(uow.conn)
        .update(insurance_requested_at=now)
    )
    if claimed:
        await uow.add_outbox(
            EmailKind.INSURANCE_REQUEST,
            {"user_id": str(client.user.id), "client_id": str(client.id)},
        )


async def schedule(
    services: Services, actor: Actor | None, data: NewAppointment
) -> AppointmentView:
    """Any onboarding state may be scheduled; an archived client may not."""
    provider_actor = require_verified_provider(actor)
    provider_id = provider_actor.provider_id
    start, end = check_times(data.starts_at, data.ends_at)
    link = await visible_link(provider_actor, data.client_id)
    if link.archived_at is not None:
        raise client_archived()

    async def work(uow: UnitOfWork) -> tuple[Provider, Appointment]:
        # Two schedules at once must not both pass the overlap check: hold the provider row
        # (PostgreSQL); SQLite runs one write transaction at a time anyway.
        provider = (
            await Provider.filter(id=provider_id).using_db(uow.conn).select_for_update().get()
        )
        clash = (
            await Appointment.filter(
                provider_id=provider_id, status__in=BUSY, starts_at__lt=end, ends_at__gt=start
            )
            .using_db(uow.conn)
            .exists()
        )
        if clash:
            message = "overlaps another scheduled or confirmed appointment"
            raise InvalidInput(
                [FieldProblem("startsAt", message), FieldProblem("endsAt", message)],
                "This time overlaps another of your appointments.",
            )
        appointment = await Appointment.create(
            provider_id=provider_id,
            client_id=link.client_id,
            starts_at=start,
            ends_at=end,
            using_db=uow.conn,
        )
        await _request_insurance(uow, link.client, datetime.now(UTC))
        await audit.record(
            provider_actor,
            "appointment.schedule",
            client_id=link.client_id,
            subject_id=appointment.id,
            conn=uow.conn,
        )
        return provider, appointment

    provider, appointment = await in_unit_of_work(services, work)
    return AppointmentView(appointment, link_view(link), provider)


async def _own_appointment(actor: Actor, appointment_id: str) -> Appointment:
    appointment = (
        await appointments_visible_to(actor)
        .get_or_none(id=parse_id(appointment_id))
        .select_related("provider")
    )
    if appointment is None:
        raise NotFound("No appointment with that id is on your calendar.")
    return appointment


async def onboarding_of(view: ClientView) -> OnboardingState:
    """Where the client stands now, as the provider sees it (nothing done before acceptance)."""
    forms = view.client.id in await clients_with_current_forms([view.client.id])
    return view_onboarding(view, forms)


async def confirm(services: Services, actor: Actor | None, appointment_id: str) -> AppointmentView:
    """Confirm once the client finished onboarding; otherwise name what is missing."""
    provider = require_provider(actor)
    appointment = await _own_appointment(provider, appointment_id)
    link = await visible_link(provider, str(appointment.client_id))
    view = AppointmentView(appointment, link_view(link), appointment.provider)
    if appointment.status is AppointmentStatus.CONFIRMED:
        return view  # confirming twice is harmless
    if appointment.status is AppointmentStatus.CANCELLED:
        raise InvalidState("A cancelled appointment cannot be confirmed. Schedule a new one.")
    if link.archived_at is not None:
        raise client_archived()
    state = await onboarding_of(link_view(link))
    if not state.complete:
        raise OnboardingIncomplete(state.missing_steps)
    now = datetime.now(UTC)

    async def work(uow: UnitOfWork) -> None:
        changed = (
            await Appointment.filter(id=appointment.id, status=AppointmentStatus.SCHEDULED)
            .using_db(uow.conn)
            .update(status=AppointmentStatus.CONFIRMED, confirmed_at=now)
        )
        if not changed:
            raise InvalidState("The appointment was cancelled a moment ago.")
        await audit.record(
            provider,
            "appointment.confirm",
            client_id=appointment.client_id,
            subject_id=appointment.id,
            conn=uow.conn,
        )

    await in_unit_of_work(services, work)
    appointment.status, appointment.confirmed_at = AppointmentStatus.CONFIRMED, now
    return view


async def cancel(services: Services, actor: Actor | None, appointment_id: str) -> AppointmentView:
    provider = require_provider(actor)
    appointment = await _own_appointment(provider, appointment_id)
    link = await visible_link(provider, str(appointment.client_id))
    now = datetime.now(UTC)

    async def work(uow: UnitOfWork) -> None:
        changed = (
            await Appointment.filter(id=appointment.id, status__in=BUSY)
            .using_db(uow.conn)
            .update(status=AppointmentStatus.CANCELLED, cancelled_at=now)
        )
        if not changed:
            raise InvalidState("This appointment is already cancelled.")
        await audit.record(
            provider,
            "appointment.cancel",
            client_id=appointment.client_id,
            subject_id=appointment.id,
            conn=uow.conn,
        )

    await in_unit_of_work(services, work)
    appointment.status, appointment.cancelled_at = AppointmentStatus.CANCELLED, now
    return AppointmentView(appointment, link_view(link), appointment.provider)
