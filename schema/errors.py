"""Error types of mutation unions, all implementing MutationError, and `expected`."""

from __future__ import annotations

from typing import TypeVar, overload

import strawberry
from graphql import GraphQLError

from resolvers.errors import (
    AuthFailure,
    DomainError,
    EditLocked,
    InvalidInput,
    NotFound,
    OnboardingIncomplete,
    RateLimited,
)
from schema.enum_docs import describe_enum
from schema.enums import ErrorCode, OnboardingStep

describe_enum(
    ErrorCode,
    "Why a mutation did not do what was asked; `message` says the same for a person.",
    {
        "UNAUTHENTICATED": "No session: log in first (or again, once the session has ended).",
        "FORBIDDEN": "The viewer's role may not do this (a client managing a list, say).",
        "NOT_FOUND": "No such record among those the viewer may see; an id that is not the "
        "viewer's answers exactly like an unknown one.",
        "INVALID_INPUT": "Some fields need attention: `InputError.fields` names each one.",
        "EMAIL_TAKEN": "The e-mail address is in use already: by another account, or by "
        "another client on the provider's list.",
        "INVALID_CREDENTIALS": "The e-mail or password is not right.",
        "INVALID_TOKEN": "The link has expired or was already used: ask for a new one.",
        "CLIENT_MANAGES_OWN_INFO": "The client verified their e-mail and accepted the "
        "invitation: only they edit their information now.",
        "ONBOARDING_INCOMPLETE": "The appointment cannot be confirmed yet: the client has "
        "onboarding steps left (`OnboardingIncompleteError.missingSteps`).",
        "CLIENT_ARCHIVED": "The client is archived on this list: unarchive them first.",
        "INVALID_STATE": "The record's state does not allow this now (an appointment already "
        "cancelled, an import already finished); `message` says which.",
        "UNSUPPORTED_FILE": "The upload is not a .csv, .xlsx or .vcf file that can be read.",
        "PASSWORD_PROTECTED_FILE": "The workbook is password-protected: export it again "
        "without a password.",
        "EMPTY_FILE": "The file has no client rows.",
        "FILE_TOO_LARGE": "The file is larger than the server accepts: split it.",
        "TOO_MANY_ROWS": "The file has more rows than one import takes: split it.",
        "MISSING_REQUIRED_COLUMNS": "Required columns were not found: see "
        "`ImportFileError.missingColumns` and `foundColumns`, or pass a `columnMapping`.",
        "RATE_LIMITED": "Too many attempts in a short time: wait, then try again "
        "(`message` says for how long where it can).",
        "EMAIL_NOT_VERIFIED": "A provider who has not confirmed their own e-mail yet: follow "
        "the link of the sign-up e-mail (resendEmailConfirmation sends another).",
    },
)


@strawberry.interface(
    description="An expected failure of a mutation, returned as a member of its result union."
)
class MutationError:
    code: ErrorCode = strawberry.field(description="What went wrong, for the program.")
    message: str = strawberry.field(
        description="What went wrong and what to do about it, for a person; no personal data."
    )


@strawberry.type(description="One input field that needs attention.")
class FieldError:
    field: str = strawberry.field(
        description="The field's path in the input, e.g. `email`, `insurance.memberId` or "
        "`clients[3].email`."
    )
    message: str = strawberry.field(description="What is wrong with it, e.g. `is required`.")


@strawberry.type(description="The input was refused (INVALID_INPUT, EMAIL_TAKEN).")
class InputError(MutationError):
    fields: list[FieldError] = strawberry.field(description="Each field that needs attention.")


@strawberry.type(
    description="Who is asking does not allow this (UNAUTHENTICATED, FORBIDDEN, "
    "INVALID_CREDENTIALS, INVALID_TOKEN, EMAIL_NOT_VERIFIED, RATE_LIMITED)."
)
class AuthError(MutationError):
    pass


@strawberry.type(description="No record with that id among those the viewer may see (NOT_FOUND).")
class NotFoundError(MutationError):
    pass


@strawberry.type(
    description="The viewer may not edit this client's information (CLIENT_MANAGES_OWN_INFO)."
)
class EditLockedError(MutationError):
    pass


@strawberry.type(
    description="The record's state does not allow this now (INVALID_STATE, CLIENT_ARCHIVED)."
)
class InvalidStateError(MutationError):
    pass


describe_enum(
    OnboardingStep,
    "A step a client takes before an appointment can be confirmed.",
    {
        "VERIFY_EMAIL": "Confirm their e-mail address (the link of the invitation or sign-up e-mail).",
        "ADD_INSURANCE": "Add their insurance (setMyInsurance).",
        "ADD_BILLING": "Add a billing method (addMyBillingMethod).",
        "ACKNOWLEDGE_FORMS": "Acknowledge the current version of every required form "
        "(acknowledgeForms).",
    },
)


@strawberry.type(
    description="The client has not finished onboarding, so the appointment cannot be "
    "confirmed yet (ONBOARDING_INCOMPLETE); it stays scheduled."
)
class OnboardingIncompleteError(MutationError):
    missing_steps: list[OnboardingStep] = strawberry.field(
        description="The steps the client has left."
    )


@strawberry.type(
    description="The uploaded file as a whole was refused (UNSUPPORTED_FILE, "
    "PASSWORD_PROTECTED_FILE, EMPTY_FILE, FILE_TOO_LARGE, TOO_MANY_ROWS, "
    "MISSING_REQUIRED_COLUMNS); nothing was imported."
)
class ImportFileError(MutationError):
    missing_columns: list[str] = strawberry.field(
        description='Required columns not found, e.g. `["Email"]`; empty for other codes.'
    )
    found_columns: list[str] = strawberry.field(
        description="The file's column headers as they appear in it; empty for other codes."
    )


def _member(error: DomainError) -> MutationError:
    """The schema type of an expected failure, chosen by the error's class."""
    code = ErrorCode(error.code)
    if isinstance(error, InvalidInput):
        fields = [FieldError(field=f.field, message=f.message) for f in error.fields]
        return InputError(code=code, message=error.message, fields=fields)
    if isinstance(error, AuthFailure | RateLimited):
        return AuthError(code=code, message=error.message)
    if isinstance(error, NotFound):
        return NotFoundError(code=code, message=error.message)
    if isinstance(error, EditLocked):
        return EditLockedError(code=code, message=error.message)
    if isinstance(error, OnboardingIncomplete):
        steps = [OnboardingStep(s) for s in error.missing_steps]
        return OnboardingIncompleteError(code=code, message=error.message, missing_steps=steps)
    return InvalidStateError(code=code, message=error.message)


A = TypeVar("A", bound=MutationError)
B = TypeVar("B", bound=MutationError)
C = TypeVar("C", bound=MutationError)
D = TypeVar("D", bound=MutationError)
F = TypeVar("F", bound=MutationError)
G = TypeVar("G", bound=MutationError)


@overload
def expected(error: DomainError, a: type[A], /) -> A: ...
@overload
def expected(error: DomainError, a: type[A], b: type[B], /) -> A | B: ...
@overload
def expected(error: DomainError, a: type[A], b: type[B], c: type[C], /) -> A | B | C: ...
@overload
def expected(
    error: DomainError, a: type[A], b: type[B], c: type[C], d: type[D], /
) -> A | B | C | D: ...
@overload
def expected(
    error: DomainError, a: type[A], b: type[B], c: type[C], d: type[D], f: type[F], /
) -> A | B | C | D | F: ...
@overload
def expected(
    error: DomainError,
    a: type[A],
    b: type[B],
    c: type[C],
    d: type[D],
    f: type[F],
    g: type[G],
    /,
) -> A | B | C | D | F | G: ...
def expected(error: DomainError, *members: type[MutationError]) -> MutationError:
    """The member of a mutation's union for an expected failure, from those it declares.

    An error whose type is not among `members` is a bug in the use case or the union:
    it is raised again, so the client gets the masked error and the log has its type.
    """
    result = _member(error)
    if not isinstance(result, members):
        raise error
    return result


def public_error(error: DomainError) -> GraphQLError:
    """A top-level error for a query or subscription, with its code in extensions."""
    return GraphQLError(error.message, extensions={"code": error.code})
