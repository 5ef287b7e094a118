"""Password reset by e-mail link and password change; both end the account's other sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from caseload.security import hash_password, token_digest, verify_password
from models import Session, User, VerificationPurpose, VerificationToken
from resolvers.accounts.credentials import (
    check_not_locked,
    check_password,
    clear_lockout,
    count_failure,
    hashed,
    invalid_input,
    login_counters,
    login_email,
)
from resolvers.accounts.sessions import IssuedSession, end_sessions, open_session
from resolvers.accounts.verification import invalid_token, revoke_tokens
from resolvers.actor import Actor
from resolvers.effects import EmailKind
from resolvers.errors import AuthFailure, ErrorCode, not_authenticated
from resolvers.ports import Services
from resolvers.unit_of_work import UnitOfWork, in_unit_of_work


@dataclass(frozen=True)
class PasswordChange:
    current_password: str
    new_password: str


async def request_password_reset(
    services: Services, email: str, *, address: str | None = None
) -> bool:
    """Mail a reset link if the address has an account. The answer is true either way."""
    settings, limiter = services.settings, services.limiter
    normalized = login_email(email)
    allowed = await limiter.hit(
        f"reset:email:{hashed(normalized)}",
        limit=settings.password_reset_max_per_email_per_hour,
        window_seconds=3600,
    )
    if address:
        allowed = (
            await limiter.hit(
                f"reset:ip:{hashed(address)}",
                limit=settings.password_reset_max_per_address_per_hour,
                window_seconds=3600,
            )
            and allowed
        )
    user = await User.get_or_none(email=normalized) if allowed else None
    if user is not None:
        user_id = user.id

        async def queue(uow: UnitOfWork) -> None:
            # ids only: the worker issues the token when it renders the e-mail
            await uow.add_outbox(EmailKind.PASSWORD_RESET, {"user_id": str(user_id)})

        await in_unit_of_work(services, queue)
    return True


async def reset_password(services: Services, token: str, password: str) -> IssuedSession:
    """Spend a reset link once: new password, every session ended, lockout cleared, new session."""
    now = datetime.now(UTC)
    record = await VerificationToken.get_or_none(
        token_hash=token_digest(token or ""), purpose=VerificationPurpose.RESET_PASSWORD
    )
    if record is None or record.used_at or record.revoked_at or record.expires_at <= now:
        raise invalid_token()
    user = await User.get(id=record.user_id)
    problems = await check_password(services.settings, password, user_inputs=[user.email])
    if problems:
        raise invalid_input(problems)
    password_hash = await hash_password(services.settings, password)

    async def work(uow: UnitOfWork) -> None:
        spent = (
            await VerificationToken.filter(id=record.id, used_at=None, revoked_at=None)
            .using_db(uow.conn)
            .update(used_at=now)
        )
        if spent != 1:
            raise invalid_token()
        await User.filter(id=user.id).using_db(uow.conn).update(password_hash=password_hash)
        await revoke_tokens(user.id, VerificationPurpose.RESET_PASSWORD, uow.conn)
        await end_sessions(uow, user.id)

    await in_unit_of_work(services, work)
    await clear_lockout(services, user.email)
    await user.refresh_from_db()
    return await open_session(services.settings, user)


async def change_password(
    services: Services,
    actor: Actor | None,
    current_token: str | None,
    change: PasswordChange,
    *,
    address: str | None = None,
) -> IssuedSession:
    """Needs the current password (wrong ones count as failed log-ins); ends the OTHER sessions.

    The answer carries the caller's own token, which stays valid.
    """
    if actor is None or actor.session_id is None or not current_token:
        raise not_authenticated()
    session = await Session.get_or_none(
        id=actor.session_id, token_hash=token_digest(current_token), revoked_at=None
    )
    user = await User.get_or_none(id=actor.user_id)
    if session is None or user is None:
        raise not_authenticated()
    counters = await login_counters(services.limiter, user.email, address)
    await check_not_locked(services, counters)
    if not await verify_password(services.settings, user.password_hash, change.current_password):
        await count_failure(services, counters)
        raise AuthFailure("The current password is not right.", code=ErrorCode.INVALID_CREDENTIALS)
    problems = await check_password(
        services.settings, change.new_password, field="newPassword", user_inputs=[user.email]
    )
    if problems:
        raise invalid_input(problems)
    password_hash = await hash_password(services.settings, change.new_password)

    async def work(uow: UnitOfWork) -> None:
        await User.filter(id=user.id).using_db(uow.conn).update(password_hash=password_hash)
        # a reset link asked for before the change must not undo it
        await revoke_tokens(user.id, VerificationPurpose.RESET_PASSWORD, uow.conn)
        await end_sessions(uow, user.id, keep=session.id)

    await in_unit_of_work(services, work)
    await user.refresh_from_db()
    return IssuedSession(token=current_token, expires_at=session.expires_at, user=user)
