"""Error types of mutation unions, all implementing MutationError, and their mapping."""

from __future__ import annotations

from enum import Enum

import strawberry
from graphql import GraphQLError

from resolvers.errors import (
    AuthFailure,
    DomainError,
    EditLocked,
    InvalidInput,
    NotFound,
    OnboardingIncomplete,
)


@strawberry.enum
class ErrorCode(Enum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    INVALID_INPUT = "INVALID_INPUT"
    EMAIL_TAKEN = "EMAIL_TAKEN"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    INVALID_TOKEN = "INVALID_TOKEN"
    CLIENT_MANAGES_OWN_INFO = "CLIENT_MANAGES_OWN_INFO"
    ONBOARDING_INCOMPLETE = "ONBOARDING_INCOMPLETE"
    CLIENT_ARCHIVED = "CLIENT_ARCHIVED"
    INVALID_STATE = "INVALID_STATE"
    UNSUPPORTED_FILE = "UNSUPPORTED_FILE"
    PASSWORD_PROTECTED_FILE = "PASSWORD_PROTECTED_FILE"
    EMPTY_FILE = "EMPTY_FILE"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    TOO_MANY_ROWS = "TOO_MANY_ROWS"
    MISSING_REQUIRED_COLUMNS = "MISSING_REQUIRED_COLUMNS"
    RATE_LIMITED = "RATE_LIMITED"
    EMAIL_NOT_VERIFIED = strawberry.enum_value(
        "EMAIL_NOT_VERIFIED",
        description="A provider who has not confirmed their own e-mail yet: follow the link of "
        "the sign-up e-mail (resendEmailConfirmation sends another).",
    )


@strawberry.interface
class MutationError:
    code: ErrorCode
    message: str


@strawberry.type
class FieldError:
    field: str
    message: str


@strawberry.type
class InputError(MutationError):
    fields: list[FieldError]


@strawberry.type
class AuthError(MutationError):
    pass


@strawberry.type
class NotFoundError(MutationError):
    pass


@strawberry.type
class EditLockedError(MutationError):
    pass


@strawberry.type
class InvalidStateError(MutationError):
    pass


@strawberry.enum
class OnboardingStep(Enum):
    VERIFY_EMAIL = "VERIFY_EMAIL"
    ADD_INSURANCE = "ADD_INSURANCE"
    ADD_BILLING = "ADD_BILLING"
    ACKNOWLEDGE_FORMS = "ACKNOWLEDGE_FORMS"


@strawberry.type
class OnboardingIncompleteError(MutationError):
    missing_steps: list[OnboardingStep]


@strawberry.type
class ImportFileError(MutationError):
    missing_columns: list[str]
    found_columns: list[str]


AnyError = (
    InputError
    | AuthError
    | NotFoundError
    | EditLockedError
    | InvalidStateError
    | OnboardingIncompleteError
)


def to_error(error: DomainError) -> AnyError:
    """The schema type of an expected failure."""
    code = ErrorCode(error.code)
    if isinstance(error, InvalidInput):
        fields = [FieldError(field=f.field, message=f.message) for f in error.fields]
        return InputError(code=code, message=error.message, fields=fields)
    if isinstance(error, AuthFailure):
        return AuthError(code=code, message=error.message)
    if isinstance(error, NotFound):
        return NotFoundError(code=code, message=error.message)
    if isinstance(error, EditLocked):
        return EditLockedError(code=code, message=error.message)
    if isinstance(error, OnboardingIncomplete):
        steps = [OnboardingStep(s) for s in error.missing_steps]
        return OnboardingIncompleteError(code=code, message=error.message, missing_steps=steps)
    if code is ErrorCode.RATE_LIMITED:
        return AuthError(code=code, message=error.message)
    return InvalidStateError(code=code, message=error.message)


def public_error(error: DomainError) -> GraphQLError:
    """A top-level error for a query or subscription, with its code in extensions."""
    return GraphQLError(error.message, extensions={"code": error.code})
