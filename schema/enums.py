"""Every GraphQL enum, derived from its domain enum (saleor's `from_enum`), never retyped.

`strawberry.enum` marks the domain class itself, so schema types annotate fields with the
domain class and a resolver's value needs no conversion. Each is derived here once.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TypeVar

import strawberry
from strawberry.types.enum import StrawberryEnumDefinition

from models import (
    AddedVia,
    AppointmentStatus,
    FormKind,
    ImportStatus,
    IssueSeverity,
    OutboxStatus,
    Role,
)
from resolvers.clients.listing import ClientOrder, OnboardingFilter
from resolvers.clients.views import InvitationStatus
from resolvers.errors import ErrorCode
from resolvers.imports.client_imports import ClientField, ImportFormat
from resolvers.onboarding.steps import OnboardingStep

__all__ = [
    "AddedVia",
    "AppointmentStatus",
    "ClientField",
    "ClientOrder",
    "ErrorCode",
    "FormKind",
    "ImportFormat",
    "ImportStatus",
    "InvitationStatus",
    "IssueSeverity",
    "OnboardingFilter",
    "OnboardingStep",
    "OutboxStatus",
    "Role",
]

E = TypeVar("E", bound=type[Enum])


def derive(
    domain: E, name: str, *, description: str | None = None, values: Mapping[str, str] = {}
) -> E:
    """Make `domain` the GraphQL enum `name`; `values` describes members by name."""
    strawberry.enum(domain, name=name, description=description)
    definition: StrawberryEnumDefinition = domain.__dict__["__strawberry_definition__"]
    for value in definition.values:
        value.description = values.get(value.name, value.description)
    return domain


derive(
    ErrorCode,
    "ErrorCode",
    values={
        "EMAIL_NOT_VERIFIED": "A provider who has not confirmed their own e-mail yet: follow "
        "the link of the sign-up e-mail (resendEmailConfirmation sends another)."
    },
)
derive(OnboardingStep, "OnboardingStep")
derive(Role, "Role")
derive(ImportStatus, "ClientImportStatus")
derive(ImportFormat, "ImportFormat")
derive(IssueSeverity, "RowIssueSeverity")
derive(ClientField, "ClientField")
derive(AddedVia, "ClientSource")
derive(OnboardingFilter, "OnboardingFilter")
derive(ClientOrder, "ClientOrder")
derive(InvitationStatus, "InvitationStatus", description="Where a list entry's invitation stands.")
derive(OutboxStatus, "OutboxStatus")
derive(FormKind, "FormKind")
derive(AppointmentStatus, "AppointmentStatus")
