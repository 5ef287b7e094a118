"""The text of each kind of e-mail. Links and generic words only: no names, no PHI."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from uuid import UUID

from models import User, VerificationPurpose
from resolvers.ports import Services
from resolvers.verification import issue_token


@dataclass(frozen=True)
class Rendered:
    to: str
    subject: str
    text: str


class Undeliverable(Exception):
    """The message no longer makes sense (account gone); it is cancelled, not retried."""


def _link(services: Services, path: str, token: str) -> str:
    return f"{services.settings.public_url.rstrip('/')}/{path}?token={token}"


async def _user(payload: dict[str, str]) -> User:
    user = await User.get_or_none(id=UUID(payload["user_id"]))
    if user is None:
        raise Undeliverable("account no longer exists")
    return user


async def confirm_account(services: Services, payload: dict[str, str]) -> Rendered:
    user = await _user(payload)
    if user.email_verified_at is not None:
        raise Undeliverable("already verified")
    token = await issue_token(services, user.id, VerificationPurpose.VERIFY_EMAIL)
    return Rendered(
        to=user.email,
        subject="Confirm your e-mail address",
        text=(
            "Please confirm your e-mail address for your Caseload account by opening this link:\n\n"
            f"{_link(services, 'verify', token)}\n\n"
            "If you did not create an account, you can ignore this message.\n"
        ),
    )


Renderer = Callable[[Services, dict[str, str]], Awaitable[Rendered]]

RENDERERS: dict[str, Renderer] = {
    "email.confirm_account": confirm_account,
}
