"""Expected failures of use cases, each with a public code and a message a person can act on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    """Every code a mutation's error can carry: the contract's `ErrorCode`, derived from this."""

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
    EMAIL_NOT_VERIFIED = "EMAIL_NOT_VERIFIED"


class LiveErrorCode(StrEnum):
    """Codes only a subscription's top-level error carries (in `extensions.code`), never a
    mutation's: they are not in the contract's `ErrorCode` enum."""

    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    EVENTS_DROPPED = "EVENTS_DROPPED"
    TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"


class DomainError(Exception):
    code: ErrorCode | LiveErrorCode = ErrorCode.INVALID_STATE

    def __init__(self, message: str, *, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


@dataclass
class FieldProblem:
    field: str
    message: str


class InvalidInput(DomainError):
    code = ErrorCode.INVALID_INPUT

    def __init__(self, fields: list[FieldProblem], message: str | None = None) -> None:
        super().__init__(
            message or "Some fields need attention: " + ", ".join(f.field for f in fields)
        )
        self.fields = fields


class AuthFailure(DomainError):
    code = ErrorCode.UNAUTHENTICATED


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND

    def __init__(self, message: str = "Nothing was found with that id.") -> None:
        super().__init__(message)


class EditLocked(DomainError):
    code = ErrorCode.CLIENT_MANAGES_OWN_INFO


class InvalidState(DomainError):
    code = ErrorCode.INVALID_STATE


class RateLimited(DomainError):
    """Too many attempts of one kind (log-in, sign-up, resend, message, import): wait."""

    code = ErrorCode.RATE_LIMITED


class EmailTaken(InvalidInput):
    """The address belongs to another account (or another entry of the same list)."""

    code = ErrorCode.EMAIL_TAKEN


class OnboardingIncomplete(DomainError):
    code = ErrorCode.ONBOARDING_INCOMPLETE

    def __init__(self, missing_steps: Sequence[str]) -> None:
        super().__init__(
            "The client has not finished onboarding yet; the appointment stays scheduled."
        )
        self.missing_steps = list(missing_steps)


def not_authenticated() -> AuthFailure:
    return AuthFailure("Log in to do this.", code=ErrorCode.UNAUTHENTICATED)


def forbidden(what: str = "do this") -> AuthFailure:
    return AuthFailure(f"Your account may not {what}.", code=ErrorCode.FORBIDDEN)


def email_not_verified() -> AuthFailure:
    """A provider who has not confirmed their own e-mail yet (EMAIL_NOT_VERIFIED)."""
    return AuthFailure(
        "Confirm your e-mail address first: open the link in the confirmation e-mail we sent "
        "you, or ask for a new one.",
        code=ErrorCode.EMAIL_NOT_VERIFIED,
    )


class EventsUnavailable(DomainError):
    code = LiveErrorCode.SERVICE_UNAVAILABLE

    def __init__(self) -> None:
        super().__init__("Live updates are unavailable right now; subscribe again in a moment.")


class EventsLagged(DomainError):
    code = LiveErrorCode.EVENTS_DROPPED

    def __init__(self) -> None:
        super().__init__(
            "This subscription fell too far behind and was ended; subscribe again and re-read."
        )


class TooManySubscriptions(DomainError):
    code = LiveErrorCode.TOO_MANY_SUBSCRIPTIONS
