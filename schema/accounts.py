"""Viewer, provider profile and the sign-up, log-in, log-out and verify-email mutations."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from models import Provider, Role, User
from resolvers import accounts, verification
from resolvers.errors import DomainError
from resolvers.sessions import IssuedSession
from schema.context import Info
from schema.errors import AuthError, InputError, to_error
from schema.nodes import Node

if TYPE_CHECKING:
    from schema.clients import ClientType


@strawberry.enum(name="Role")
class RoleEnum(Enum):
    PROVIDER = "PROVIDER"
    CLIENT = "CLIENT"
    STAFF = "STAFF"


@strawberry.type(name="ProviderProfile")
class ProviderProfile(Node):
    display_name: str
    practice_name: str | None

    @classmethod
    def from_model(cls, provider: Provider) -> ProviderProfile:
        return cls(
            id=strawberry.ID(str(provider.id)),
            display_name=provider.display_name,
            practice_name=provider.practice_name,
        )


@strawberry.type
class Viewer:
    id: strawberry.ID
    email: str
    role: RoleEnum
    user: strawberry.Private[User]

    @strawberry.field
    async def provider(self) -> ProviderProfile | None:
        if self.user.role is not Role.PROVIDER:
            return None
        provider = await Provider.get_or_none(user_id=self.user.id)
        return ProviderProfile.from_model(provider) if provider else None

    @strawberry.field
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
            role=RoleEnum(user.role.value),
            user=user,
        )


@strawberry.type
class AuthSuccess:
    token: str
    expires_at: datetime
    viewer: Viewer

    @classmethod
    def from_session(cls, issued: IssuedSession) -> AuthSuccess:
        return cls(
            token=issued.token, expires_at=issued.expires_at, viewer=Viewer.from_user(issued.user)
        )


AuthResult = Annotated[AuthSuccess | AuthError | InputError, strawberry.union("AuthResult")]


@strawberry.input
class SignUpProviderInput:
    email: str
    password: str
    display_name: str
    practice_name: str | None = None


@strawberry.input
class SignUpClientInput:
    email: str
    password: str
    first_name: str
    last_name: str


@strawberry.input
class LogInInput:
    email: str
    password: str


@strawberry.input
class VerifyEmailInput:
    token: str
    password: str | None = None


def auth_error(error: DomainError) -> AuthError | InputError:
    result = to_error(error)
    assert isinstance(result, AuthError | InputError)
    return result


@strawberry.type
class AccountQueries:
    @strawberry.field
    async def me(self, info: Info) -> Viewer | None:
        actor = info.context.actor
        if actor is None:
            return None
        user = await User.get_or_none(id=actor.user_id)
        return Viewer.from_user(user) if user else None


@strawberry.type
class AccountMutations:
    @strawberry.mutation
    async def sign_up_provider(self, info: Info, input: SignUpProviderInput) -> AuthResult:
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

    @strawberry.mutation
    async def sign_up_client(self, info: Info, input: SignUpClientInput) -> AuthResult:
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

    @strawberry.mutation
    async def log_in(self, info: Info, input: LogInInput) -> AuthResult:
        ctx = info.context
        try:
            issued = await accounts.log_in(
                ctx.services, input.email, input.password, address=ctx.address
            )
        except DomainError as error:
            return auth_error(error)
        return AuthSuccess.from_session(issued)

    @strawberry.mutation
    async def log_out(self, info: Info) -> bool:
        return await accounts.log_out(info.context.services, info.context.actor)

    @strawberry.mutation
    async def verify_email(self, info: Info, input: VerifyEmailInput) -> AuthResult:
        try:
            issued = await verification.verify_email(
                info.context.services, input.token, input.password
            )
        except DomainError as error:
            return auth_error(error)
        return AuthSuccess.from_session(issued)
