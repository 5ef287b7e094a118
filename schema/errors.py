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
from schema.enums import ErrorCode, OnboardingStep


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


@strawberry.type
class OnboardingIncompleteError(MutationError):
    missing_steps: list[OnboardingStep]


@strawberry.type
class ImportFileError(MutationError):
    missing_columns: list[str]
    found_columns: list[str]


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
