"""Onboarding: the standard forms, resending invitations and the client's self-service mutations."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date

import strawberry

from models import FormDocument
from resolvers import forms, invitations, self_service
from resolvers.client_input import ClientChanges
from resolvers.clients import ClientView
from resolvers.errors import DomainError
from schema.clients import ClientResult, InsuranceInput, client_result
from schema.context import Info
from schema.enums import FormKind
from schema.errors import (
    AuthError,
    EditLockedError,
    InputError,
    InvalidStateError,
    NotFoundError,
    expected,
)
from schema.nodes import Node


@strawberry.type(name="FormDocument")
class FormDocumentType(Node):
    kind: FormKind
    version: int
    title: str
    body: str

    @classmethod
    def from_model(cls, document: FormDocument) -> FormDocumentType:
        return cls(
            id=strawberry.ID(str(document.id)),
            kind=document.kind,
            version=document.version,
            title=document.title,
            body=document.body,
        )


@strawberry.input
class UpdateMyProfileInput:
    legal_first_name: str | None = None
    legal_last_name: str | None = None
    preferred_name: str | None = None
    email: str | None = None
    mobile_phone: str | None = None
    date_of_birth: date | None = None

    def to_changes(self) -> ClientChanges:
        return ClientChanges(
            legal_first_name=self.legal_first_name,
            legal_last_name=self.legal_last_name,
            preferred_name=self.preferred_name,
            email=self.email,
            mobile_phone=self.mobile_phone,
            date_of_birth=self.date_of_birth,
        )


@strawberry.input
class BillingMethodInput:
    payment_token: str


@strawberry.input
class AcknowledgeFormsInput:
    document_ids: list[strawberry.ID]


async def _result(call: Awaitable[ClientView]) -> ClientResult:
    """The resolver's client, or its expected failure as a member of the ClientResult union."""
    try:
        view = await call
    except DomainError as error:
        return expected(
            error, InputError, AuthError, NotFoundError, EditLockedError, InvalidStateError
        )
    return client_result(view)


@strawberry.type
class OnboardingQueries:
    @strawberry.field(description="The current version of each required form.")
    async def forms(self) -> list[FormDocumentType]:
        return [FormDocumentType.from_model(doc) for doc in await forms.current_forms()]


@strawberry.type
class OnboardingMutations:
    @strawberry.mutation
    async def resend_invitation(self, info: Info, client_id: strawberry.ID) -> ClientResult:
        ctx = info.context
        return await _result(invitations.resend_invitation(ctx.services, ctx.actor, client_id))

    @strawberry.mutation
    async def update_my_profile(self, info: Info, input: UpdateMyProfileInput) -> ClientResult:
        ctx = info.context
        return await _result(
            self_service.update_my_profile(ctx.services, ctx.actor, input.to_changes())
        )

    @strawberry.mutation
    async def set_my_insurance(self, info: Info, input: InsuranceInput) -> ClientResult:
        ctx = info.context
        return await _result(
            self_service.set_my_insurance(ctx.services, ctx.actor, input.to_data())
        )

    @strawberry.mutation
    async def add_my_billing_method(self, info: Info, input: BillingMethodInput) -> ClientResult:
        ctx = info.context
        return await _result(
            self_service.add_my_billing_method(ctx.services, ctx.actor, input.payment_token)
        )

    @strawberry.mutation
    async def acknowledge_forms(self, info: Info, input: AcknowledgeFormsInput) -> ClientResult:
        ctx = info.context
        ids = [str(i) for i in input.document_ids]
        return await _result(self_service.acknowledge_forms(ctx.services, ctx.actor, ids))
