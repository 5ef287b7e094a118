"""Appointment types, the appointments query and the schedule, confirm and cancel mutations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from resolvers import appointment_list, appointments
from resolvers.appointments import AppointmentView, NewAppointment
from resolvers.errors import DomainError
from schema.accounts import ProviderProfile
from schema.clients import ClientType
from schema.context import Info
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
from schema.nodes import Counted, Node, PageInfo


@strawberry.type(name="Appointment")
class AppointmentType(Node):
    view: strawberry.Private[AppointmentView]
    starts_at: datetime
    ends_at: datetime
    status: AppointmentStatus

    @strawberry.field
    def client(self) -> ClientType:
        return ClientType.from_view(self.view.client)

    @strawberry.field
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


@strawberry.type
class AppointmentEdge:
    cursor: str
    node: AppointmentType


@strawberry.type
class AppointmentConnection(Counted):
    edges: list[AppointmentEdge]
    page_info: PageInfo


@strawberry.input
class ScheduleAppointmentInput:
    client_id: strawberry.ID
    starts_at: datetime
    ends_at: datetime

    def to_data(self) -> NewAppointment:
        return NewAppointment(self.client_id, self.starts_at, self.ends_at)


@strawberry.type
class AppointmentSuccess:
    appointment: AppointmentType


AppointmentResult = Annotated[
    AppointmentSuccess
    | InputError
    | AuthError
    | NotFoundError
    | OnboardingIncompleteError
    | InvalidStateError,
    strawberry.union("AppointmentResult"),
]


def _result(view: AppointmentView) -> AppointmentSuccess:
    return AppointmentSuccess(appointment=AppointmentType.from_view(view))


@strawberry.type
class AppointmentQueries:
    @strawberry.field
    async def appointments(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        client_id: strawberry.ID | None = None,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
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
        edges = [
            AppointmentEdge(cursor=c, node=AppointmentType.from_view(v)) for c, v in page.items
        ]
        return AppointmentConnection(
            edges=edges,
            page_info=PageInfo.of(edges, page.has_next_page, args.after),
            count=page.count,
        )


@strawberry.type
class AppointmentMutations:
    @strawberry.mutation
    async def schedule_appointment(
        self, info: Info, input: ScheduleAppointmentInput
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

    @strawberry.mutation
    async def confirm_appointment(self, info: Info, id: strawberry.ID) -> AppointmentResult:
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

    @strawberry.mutation
    async def cancel_appointment(self, info: Info, id: strawberry.ID) -> AppointmentResult:
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
