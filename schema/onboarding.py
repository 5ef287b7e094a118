"""Onboarding: the standard forms, resending invitations and the client's self-service mutations."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date
from typing import Annotated

import strawberry

from models import FormDocument
from resolvers.clients import invitations
from resolvers.clients.adding import ClientView
from resolvers.clients.checks import ClientChanges
from resolvers.errors import DomainError
from resolvers.onboarding import forms, self_service
from schema.clients import E164, NULL_KEEPS, ClientResult, InsuranceInput, client_result
from schema.context import Info
from schema.enum_docs import describe_enum
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

describe_enum(
    FormKind,
    "A standard form every client acknowledges.",
    {
        "BILLING_POLICY": "The billing policy.",
        "PRIVACY_POLICY": "The privacy policy.",
    },
)


@strawberry.type(name="FormDocument", description="One version of a standard form.")
class FormDocumentType(Node):
    kind: FormKind = strawberry.field(description="Which form it is.")
    version: int = strawberry.field(
        description="Its version, from 1; a new version needs a new acknowledgement."
    )
    title: str = strawberry.field(description="Its title.")
    body: str = strawberry.field(description="Its text, as plain text.")

    @classmethod
    def from_model(cls, document: FormDocument) -> FormDocumentType:
        return cls(
            id=strawberry.ID(str(document.id)),
            kind=document.kind,
            version=document.version,
            title=document.title,
            body=document.body,
        )


@strawberry.input(
    description="Changes to the client's own profile; for every field, null leaves it as it is."
)
class UpdateMyProfileInput:
    legal_first_name: str | None = strawberry.field(
        default=None, description=f"Legal first name; {NULL_KEEPS}."
    )
    legal_last_name: str | None = strawberry.field(
        default=None, description=f"Legal last name; {NULL_KEEPS}."
    )
    preferred_name: str | None = strawberry.field(
        default=None, description=f"Preferred name; an empty string clears it; {NULL_KEEPS}."
    )
    email: str | None = strawberry.field(
        default=None,
        description="A new e-mail address: a confirmation link goes to it, and it takes effect "
        f"once followed; {NULL_KEEPS}.",
    )
    mobile_phone: str | None = strawberry.field(
        default=None,
        description=f"Mobile phone, stored {E164}; an empty string clears it; {NULL_KEEPS}.",
    )
    date_of_birth: date | None = strawberry.field(
        default=None, description=f"Date of birth; {NULL_KEEPS}."
    )

    def to_changes(self) -> ClientChanges:
        return ClientChanges(
            legal_first_name=self.legal_first_name,
            legal_last_name=self.legal_last_name,
            preferred_name=self.preferred_name,
            email=self.email,
            mobile_phone=self.mobile_phone,
            date_of_birth=self.date_of_birth,
        )


@strawberry.input(description="A card, handed over by the payment processor.")
class BillingMethodInput:
    payment_token: str = strawberry.field(
        description="The one-time token from the payment processor's widget, e.g. `tok_visa`; "
        "the card number never reaches Caseload."
    )


@strawberry.input(description="Forms the client has read.")
class AcknowledgeFormsInput:
    document_ids: list[strawberry.ID] = strawberry.field(
        description="FormDocument ids, 1 to 20; only current versions count (see `forms`)."
    )


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
    @strawberry.mutation(
        description="Send a list entry's invitation again, with a fresh link that voids the "
        "older ones (a provider for its own entries not accepted yet, staff for any); "
        "rate-limited."
    )
    async def resend_invitation(
        self,
        info: Info,
        client_id: Annotated[strawberry.ID, strawberry.argument(description="The client's id.")],
    ) -> ClientResult:
        ctx = info.context
        return await _result(invitations.resend_invitation(ctx.services, ctx.actor, client_id))

    @strawberry.mutation(description="Change the client's own profile (clients only).")
    async def update_my_profile(
        self,
        info: Info,
        input: Annotated[UpdateMyProfileInput, strawberry.argument(description="The changes.")],
    ) -> ClientResult:
        ctx = info.context
        return await _result(
            self_service.update_my_profile(ctx.services, ctx.actor, input.to_changes())
        )

    @strawberry.mutation(
        description="Set the client's own insurance, replacing any on file (clients only)."
    )
    async def set_my_insurance(
        self,
        info: Info,
        input: Annotated[InsuranceInput, strawberry.argument(description="The insurance.")],
    ) -> ClientResult:
        ctx = info.context
        return await _result(
            self_service.set_my_insurance(ctx.services, ctx.actor, input.to_data())
        )

    @strawberry.mutation(
        description="Put the client's card on file (clients only); a refused card is an "
        "INVALID_INPUT on `paymentToken`."
    )
    async def add_my_billing_method(
        self,
        info: Info,
        input: Annotated[BillingMethodInput, strawberry.argument(description="The card.")],
    ) -> ClientResult:
        ctx = info.context
        return await _result(
            self_service.add_my_billing_method(ctx.services, ctx.actor, input.payment_token)
        )

    @strawberry.mutation(description="Record that the client read these forms (clients only).")
    async def acknowledge_forms(
        self,
        info: Info,
        input: Annotated[AcknowledgeFormsInput, strawberry.argument(description="The forms.")],
    ) -> ClientResult:
        ctx = info.context
        ids = [str(i) for i in input.document_ids]
        return await _result(self_service.acknowledge_forms(ctx.services, ctx.actor, ids))
