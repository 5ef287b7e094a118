"""Viewer, provider profile and the sign-up, log-in, log-out and verify-email mutations."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from models import Provider, User
from resolvers.accounts import authentication as accounts
from resolvers.accounts import verification
from resolvers.accounts.sessions import IssuedSession
from resolvers.errors import DomainError
from schema.context import Info
from schema.enum_docs import describe_enum
from schema.enums import Role
from schema.errors import AuthError, InputError, expected
from schema.nodes import Node

if TYPE_CHECKING:
    from schema.clients import ClientType


describe_enum(
    Role,
    "What kind of account someone has.",
    {
        "PROVIDER": "A provider, who keeps a client list.",
        "CLIENT": "A client, who manages their own information.",
        "STAFF": "Caseload staff, with read-only tools across providers.",
    },
)


@strawberry.type(name="ProviderProfile", description="What anyone may see of a provider.")
class ProviderProfile(Node):
    display_name: str = strawberry.field(description="The provider's name as they show it.")
    practice_name: str | None = strawberry.field(
        description="The provider's practice; null when they gave none."
    )

    @classmethod
    def from_model(cls, provider: Provider) -> ProviderProfile:
        return cls(
            id=strawberry.ID(str(provider.id)),
            display_name=provider.display_name,
            practice_name=provider.practice_name,
        )


@strawberry.type(description="The logged-in account.")
class Viewer:
    id: strawberry.ID = strawberry.field(description="The account's id (not a client's id).")
    email: str = strawberry.field(description="The account's e-mail address, used to log in.")
    role: Role = strawberry.field(description="What kind of account it is.")
    user: strawberry.Private[User]

    @strawberry.field(description="The provider's profile; set for providers only.")
    async def provider(self) -> ProviderProfile | None:
        provider = await accounts.provider_profile(self.user)
        return ProviderProfile.from_model(provider) if provider else None

    @strawberry.field(description="The client's own record; set for clients only.")
    async def client(
        self, info: Info
    ) -> Annotated[ClientType, strawberry.lazy("schema.clients")] | None:
        from schema.clients import own_client

        return await own_client(info)

    @classmethod
    def from_user(cls, user: User) -> Viewer:
        return cls(
            id=strawberry.ID(str(user.id)),
            email=user.email,
            role=user.role,
            user=user,
        )


@strawberry.type(description="A new session.")
class AuthSuccess:
    token: str = strawberry.field(
        description="The session's bearer token: send it as `Authorization: Bearer <token>` "
        "(HTTP) or as `authorization` in the WebSocket's connection_init payload."
    )
    expires_at: datetime = strawberry.field(
        description="When the session ends at the latest; it can end sooner (log-out, idle "
        "time, a password reset)."
    )
    viewer: Viewer = strawberry.field(description="The account now logged in.")

    @classmethod
    def from_session(cls, issued: IssuedSession) -> AuthSuccess:
        return cls(
            token=issued.token, expires_at=issued.expires_at, viewer=Viewer.from_user(issued.user)
        )


AuthResult = Annotated[
    AuthSuccess | AuthError | InputError,
    strawberry.union("AuthResult", description="A new session, or why there is none."),
]
PASSWORD = "10 to 256 characters, not easy to guess."


@strawberry.input(description="A new provider account.")
class SignUpProviderInput:
    email: str = strawberry.field(
        description="The provider's e-mail address; a confirmation link is sent to it."
    )
    password: str = strawberry.field(description=f"The account's password: {PASSWORD}")
    display_name: str = strawberry.field(description="The name clients will see.")
    practice_name: str | None = strawberry.field(
        default=None, description="The practice's name, if any."
    )


@strawberry.input(description="A new client account, for a client who signs up on their own.")
class SignUpClientInput:
    email: str = strawberry.field(
        description="The client's e-mail address; a confirmation link is sent to it."
    )
    password: str = strawberry.field(description=f"The account's password: {PASSWORD}")
    first_name: str = strawberry.field(description="The client's legal first name.")
    last_name: str = strawberry.field(description="The client's legal last name.")


@strawberry.input(description="An account's credentials.")
class LogInInput:
    email: str = strawberry.field(description="The account's e-mail address.")
    password: str = strawberry.field(description="The account's password.")


@strawberry.input(description="The token of an e-mail's link, and a password where one is needed.")
class VerifyEmailInput:
    token: str = strawberry.field(
        description="The `token` query parameter of the link in the e-mail (sign-up "
        "confirmation, invitation, or a change of address)."
    )
    password: str | None = strawberry.field(
        default=None,
        description="For an account with no password yet (a first invitation): the password "
        f"to set, {PASSWORD} For an account that has one (accepting an invitation into it): "
        "that password, else INVALID_CREDENTIALS and nothing changes.",
    )


def auth_error(error: DomainError) -> AuthError | InputError:
    return expected(error, AuthError, InputError)


@strawberry.type
class AccountQueries:
    @strawberry.field(description="The logged-in account; null without a session.")
    async def me(self, info: Info) -> Viewer | None:
        user = await accounts.viewer_account(info.context.actor)
        return Viewer.from_user(user) if user else None


@strawberry.type
class AccountMutations:
    @strawberry.mutation(
        description="Create a provider account and log in. Storing client data and sending "
        "invitations wait until the provider confirms their e-mail (EMAIL_NOT_VERIFIED)."
    )
    async def sign_up_provider(
        self,
        info: Info,
        input: Annotated[
            SignUpProviderInput, strawberry.argument(description="The new provider account.")
        ],
    ) -> AuthResult:
        ctx = info.context
        data = accounts.ProviderSignUp(
            email=input.email,
            password=input.password,
            display_name=input.display_name,
            practice_name=input.practice_name,
        )
        try:
            issued = await accounts.sign_up_provider(ctx.services, data, address=ctx.address)
        except DomainError as error:
            return auth_error(error)
        return AuthSuccess.from_session(issued)

    @strawberry.mutation(description="Create a client account and log in.")
    async def sign_up_client(
        self,
        info: Info,
        input: Annotated[
            SignUpClientInput, strawberry.argument(description="The new client account.")
        ],
    ) -> AuthResult:
        ctx = info.context
        data = accounts.ClientSignUp(
            email=input.email,
            password=input.password,
            first_name=input.first_name,
            last_name=input.last_name,
        )
        try:
            issued = await accounts.sign_up_client(ctx.services, data, address=ctx.address)
        except DomainError as error:
            return auth_error(error)
        return AuthSuccess.from_session(issued)

    @strawberry.mutation(
        description="Log in with e-mail and password. Repeated failures lock log-in for a while "
        "(RATE_LIMITED); a password reset ends the lock-out."
    )
    async def log_in(
        self,
        info: Info,
        input: Annotated[LogInInput, strawberry.argument(description="The credentials.")],
    ) -> AuthResult:
        ctx = info.context
        try:
            issued = await accounts.log_in(
                ctx.services, input.email, input.password, address=ctx.address
            )
        except DomainError as error:
            return auth_error(error)
        return AuthSuccess.from_session(issued)

    @strawberry.mutation(
        description="End the current session (its open WebSockets too); false without one."
    )
    async def log_out(self, info: Info) -> bool:
        return await accounts.log_out(info.context.services, info.context.actor)

    @strawberry.mutation(
        description="Follow an e-mail's link (once): confirm an address, switch to a new one, or "
        "accept a provider's invitation; then log in."
    )
    async def verify_email(
        self,
        info: Info,
        input: Annotated[
            VerifyEmailInput, strawberry.argument(description="The link's token and password.")
        ],
    ) -> AuthResult:
        try:
            issued = await verification.verify_email(
                info.context.services, input.token, input.password
            )
        except DomainError as error:
            return auth_error(error)
        return AuthSuccess.from_session(issued)
