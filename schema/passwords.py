"""The password reset, password change and confirmation re-send mutations."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers.accounts import authentication as accounts
from resolvers.accounts import passwords
from resolvers.errors import DomainError
from schema.accounts import AuthResult, AuthSuccess, auth_error
from schema.context import Info


@strawberry.input(description="The address of the account whose password is forgotten.")
class RequestPasswordResetInput:
    email: str = strawberry.field(description="The account's e-mail address, as typed.")


@strawberry.input(description="The token from a password-reset link and the new password.")
class ResetPasswordInput:
    token: str = strawberry.field(description="The `token` query parameter of the link.")
    password: str = strawberry.field(
        description="The new password: 10 to 256 characters, not easy to guess."
    )


@strawberry.input(description="The current password and the new one.")
class ChangePasswordInput:
    current_password: str = strawberry.field(description="The password in use now.")
    new_password: str = strawberry.field(
        description="The new password: 10 to 256 characters, not easy to guess."
    )


@strawberry.type
class PasswordMutations:
    @strawberry.mutation(
        description="Mail a password-reset link to this address if it has an account. Always "
        "true, whether or not it has one; rate-limited; the e-mail carries a link only."
    )
    async def request_password_reset(
        self,
        info: Info,
        input: Annotated[
            RequestPasswordResetInput, strawberry.argument(description="The account's address.")
        ],
    ) -> bool:
        ctx = info.context
        return await passwords.request_password_reset(
            ctx.services, input.email, address=ctx.address
        )

    @strawberry.mutation(
        description="Spend a reset link (once): set the password, end every session of the "
        "account (open WebSockets included), clear its log-in lockout and log in anew."
    )
    async def reset_password(
        self,
        info: Info,
        input: Annotated[
            ResetPasswordInput,
            strawberry.argument(description="The link's token and the new password."),
        ],
    ) -> AuthResult:
        try:
            issued = await passwords.reset_password(
                info.context.services, input.token, input.password
            )
        except DomainError as error:
            return auth_error(error)
        return AuthSuccess.from_session(issued)

    @strawberry.mutation(
        description="Change the password; needs the current one. Ends every other session of "
        "the account; the answer carries the caller's own token, which stays valid."
    )
    async def change_password(
        self,
        info: Info,
        input: Annotated[
            ChangePasswordInput,
            strawberry.argument(description="The current password and the new one."),
        ],
    ) -> AuthResult:
        ctx = info.context
        change = passwords.PasswordChange(input.current_password, input.new_password)
        try:
            issued = await passwords.change_password(
                ctx.services, ctx.actor, ctx.token, change, address=ctx.address
            )
        except DomainError as error:
            return auth_error(error)
        return AuthSuccess.from_session(issued)

    @strawberry.mutation(
        description="Send the sign-up confirmation e-mail again (rate-limited). True for any "
        "account, confirmed or not; false without a session."
    )
    async def resend_email_confirmation(self, info: Info) -> bool:
        return await accounts.resend_email_confirmation(info.context.services, info.context.actor)
