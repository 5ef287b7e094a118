"""Expected failures of use cases, each with a public code and a message a person can act on."""

from __future__ import annotations

from dataclasses import dataclass


class DomainError(Exception):
    code = "INVALID_STATE"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


@dataclass
class FieldProblem:
    field: str
    message: str


class InvalidInput(DomainError):
    code = "INVALID_INPUT"

    def __init__(self, fields: list[FieldProblem], message: str | None = None) -> None:
        super().__init__(
            message or "Some fields need attention: " + ", ".join(f.field for f in fields)
        )
        self.fields = fields


class AuthFailure(DomainError):
    code = "UNAUTHENTICATED"


class NotFound(DomainError):
    code = "NOT_FOUND"

    def __init__(self, message: str = "Nothing was found with that id.") -> None:
        super().__init__(message)


class EditLocked(DomainError):
    code = "CLIENT_MANAGES_OWN_INFO"


class InvalidState(DomainError):
    code = "INVALID_STATE"


class OnboardingIncomplete(DomainError):
    code = "ONBOARDING_INCOMPLETE"

    def __init__(self, missing_steps: list[str]) -> None:
        super().__init__(
            "The client has not finished onboarding yet; the appointment stays scheduled."
        )
        self.missing_steps = missing_steps


def not_authenticated() -> AuthFailure:
    return AuthFailure("Log in to do this.", code="UNAUTHENTICATED")


def forbidden(what: str = "do this") -> AuthFailure:
    return AuthFailure(f"Your account may not {what}.", code="FORBIDDEN")


def email_not_verified() -> AuthFailure:
    """A provider who has not confirmed their own e-mail yet (EMAIL_NOT_VERIFIED)."""
    return AuthFailure(
        "Confirm your e-mail address first: open the link in the confirmation e-mail we sent "
        "you, or ask for a new one.",
        code="EMAIL_NOT_VERIFIED",
    )


class EventsUnavailable(DomainError):
    code = "SERVICE_UNAVAILABLE"

    def __init__(self) -> None:
        super().__init__("Live updates are unavailable right now; subscribe again in a moment.")


class EventsLagged(DomainError):
    code = "EVENTS_DROPPED"

    def __init__(self) -> None:
        super().__init__(
            "This subscription fell too far behind and was ended; subscribe again and re-read."
        )


class TooManySubscriptions(DomainError):
    code = "TOO_MANY_SUBSCRIPTIONS"
