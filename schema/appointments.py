"""Appointment types, the appointments query and the schedule, confirm and cancel mutations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from resolvers.appointments import listing as appointment_list
from resolvers.appointments import scheduling as appointments
from resolvers.appointments.scheduling import AppointmentView, NewAppointment
from resolvers.errors import DomainError
from schema.accounts import ProviderProfile
from schema.clients import ClientType
from schema.context import Info
from schema.enum_docs import describe_enum
from schema.enums import AppointmentStatus
from schema.errors import (
    AuthError,
    InputError,
    InvalidStateError,
    NotFoundError,
    OnboardingIncompleteError,
    expected,
    public_error,
)
from schema.nodes import (
    CURSOR,
    EDGES,
    NODE,
    PAGE_INFO,
    After,
    Counted,
    First,
    Node,
    PageInfo,
    connection,
)

describe_enum(
    AppointmentStatus,
    "Where an appointment stands.",
    {
        "SCHEDULED": "On the calendar, not confirmed yet.",
        "CONFIRMED": "Confirmed: the client had finished onboarding.",
        "CANCELLED": "Cancelled; it no longer holds its time.",
    },
)
APPOINTMENT_ID = "The appointment's id."


@strawberry.type(name="Appointment", description="An appointment between a provider and a client.")
class AppointmentType(Node):
    view: strawberry.Private[AppointmentView]
    starts_at: datetime = strawberry.field(description="When it starts.")
    ends_at: datetime = strawberry.field(
        description="When it ends: after the start, at most 8 hours later."
    )
    status: AppointmentStatus = strawberry.field(description="Where it stands.")

    @strawberry.field(description="The client, as the viewer sees them.")
    def client(self) -> ClientType:
        return ClientType.from_view(self.view.client)

    @strawberry.field(description="The provider.")
    def provider(self) -> ProviderProfile:
        return ProviderProfile.from_model(self.view.provider)

    @classmethod
    def from_view(cls, view: AppointmentView) -> AppointmentType:
        a = view.appointment
        return cls(
            id=strawberry.ID(str(a.id)),
            view=view,
            starts_at=a.starts_at,
            ends_at=a.ends_at,
            status=a.status,
        )


@strawberry.type(description="An appointment in a list.")
class AppointmentEdge:
    cursor: str = strawberry.field(description=CURSOR)
    node: AppointmentType = strawberry.field(description=NODE)


@strawberry.type(description="A page of appointments, earliest first.")
class AppointmentConnection(Counted):
    edges: list[AppointmentEdge] = strawberry.field(description=EDGES)
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)


@strawberry.input(description="A new appointment with a client on the provider's list.")
class ScheduleAppointmentInput:
    client_id: strawberry.ID = strawberry.field(description="The client's id.")
    starts_at: datetime = strawberry.field(description="When it starts.")
    ends_at: datetime = strawberry.field(
        description="When it ends: after the start, at most 8 hours later, and not overlapping "
        "another scheduled or confirmed appointment of the provider."
    )

    def to_data(self) -> NewAppointment:
        return NewAppointment(self.client_id, self.starts_at, self.ends_at)


@strawberry.type(description="The appointment, as changed.")
class AppointmentSuccess:
    appointment: AppointmentType = strawberry.field(description="The appointment now.")


AppointmentResult = Annotated[
    AppointmentSuccess
    | InputError
    | AuthError
    | NotFoundError
    | OnboardingIncompleteError
    | InvalidStateError,
    strawberry.union("AppointmentResult", description="The appointment as changed, or why not."),
]


def _result(view: AppointmentView) -> AppointmentSuccess:
    return AppointmentSuccess(appointment=AppointmentType.from_view(view))


@strawberry.type
class AppointmentQueries:
    @strawberry.field(
        description="The viewer's appointments (a provider's calendar, or a client's own), "
        "earliest first, cancelled ones included."
    )
    async def appointments(
        self,
        info: Info,
        first: First = 50,
        after: After = None,
        client_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this client's.")
        ] = None,
        from_: Annotated[
            datetime | None,
            strawberry.argument(name="from", description="Only those ending after this time."),
        ] = None,
        to: Annotated[
            datetime | None,
            strawberry.argument(description="Only those starting before this time."),
        ] = None,
    ) -> AppointmentConnection:
        args = appointment_list.AppointmentListArgs(
            first=50 if first is None else first,
            after=after,
            client_id=client_id,
            ends_after=from_,
            starts_before=to,
        )
        try:
            page = await appointment_list.list_appointments(info.context.actor, args)
        except DomainError as error:
            raise public_error(error) from None
        return connection(
            AppointmentConnection, AppointmentEdge, page, AppointmentType.from_view, args.after
        )


@strawberry.type
class AppointmentMutations:
    @strawberry.mutation(
        description="Schedule an appointment (providers with a confirmed e-mail); the client's "
        "onboarding may be at any step, but the client may not be archived."
    )
    async def schedule_appointment(
        self,
        info: Info,
        input: Annotated[
            ScheduleAppointmentInput, strawberry.argument(description="The appointment.")
        ],
    ) -> AppointmentResult:
        ctx = info.context
        try:
            view = await appointments.schedule(ctx.services, ctx.actor, input.to_data())
        except DomainError as error:
            return expected(
                error,
                InputError,
                AuthError,
                NotFoundError,
                OnboardingIncompleteError,
                InvalidStateError,
            )
        return _result(view)

    @strawberry.mutation(
        description="Confirm an appointment (providers); needs the client's onboarding complete, else "
        "ONBOARDING_INCOMPLETE names the steps left and it stays scheduled."
    )
    async def confirm_appointment(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description=APPOINTMENT_ID)],
    ) -> AppointmentResult:
        ctx = info.context
        try:
            view = await appointments.confirm(ctx.services, ctx.actor, id)
        except DomainError as error:
            return expected(
                error,
                InputError,
                AuthError,
                NotFoundError,
                OnboardingIncompleteError,
                InvalidStateError,
            )
        return _result(view)

    @strawberry.mutation(description="Cancel a scheduled or confirmed appointment (providers).")
    async def cancel_appointment(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description=APPOINTMENT_ID)],
    ) -> AppointmentResult:
        ctx = info.context
        try:
            view = await appointments.cancel(ctx.services, ctx.actor, id)
        except DomainError as error:
            return expected(
                error,
                InputError,
                AuthError,
                NotFoundError,
                OnboardingIncompleteError,
                InvalidStateError,
            )
        return _result(view)
