"""Sign-up, log-in and log-out of providers, clients and staff."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.exceptions import IntegrityError

from caseload.security import hash_password, verify_password
from caseload.settings import Settings, get_settings
from importing.fields import FieldInvalid, normalize_email, normalize_name
from models import Client, Provider, Role, User
from resolvers.accounts.credentials import (
    check_not_locked,
    check_password,
    count_failure,
    hashed,
    invalid_input,
    login_counters,
    login_email,
)
from resolvers.accounts.sessions import IssuedSession, open_session, revoke_session
from resolvers.actor import Actor
from resolvers.effects import EmailKind
from resolvers.errors import (
    AuthFailure,
    EmailTaken,
    ErrorCode,
    FieldProblem,
    InvalidInput,
    RateLimited,
)
from resolvers.names import search_fields
from resolvers.ports import Services
from resolvers.unit_of_work import UnitOfWork, in_unit_of_work


@dataclass(frozen=True)
class ProviderSignUp:
    email: str
    password: str
    display_name: str
    practice_name: str | None = None


@dataclass(frozen=True)
class ClientSignUp:
    email: str
    password: str
    first_name: str
    last_name: str


def _email_or_problem(raw: str, problems: list[FieldProblem]) -> str:
    try:
        return normalize_email(raw)
    except FieldInvalid as error:
        problems.append(FieldProblem("email", str(error)))
        return ""


def _name_or_problem(raw: str | None, field: str, problems: list[FieldProblem]) -> str:
    try:
        return normalize_name(raw) or ""
    except FieldInvalid as error:
        problems.append(FieldProblem(field, str(error)))
        return ""


async def _throttle_signup(services: Services, address: str | None) -> None:
    if address and not await services.limiter.hit(
        f"signup:ip:{hashed(address)}",
        limit=services.settings.signup_max_per_hour,
        window_seconds=3600,
    ):
        raise RateLimited("Too many sign-ups from this address. Try again in an hour.")


def _email_taken() -> InvalidInput:
    return EmailTaken(
        [FieldProblem("email", "already has an account: log in, or use the link in your e-mail")],
        "An account with this e-mail already exists.",
    )


async def sign_up_provider(
    services: Services, data: ProviderSignUp, *, address: str | None = None
) -> IssuedSession:
    await _throttle_signup(services, address)
    problems: list[FieldProblem] = []
    email = _email_or_problem(data.email, problems)
    display_name = _name_or_problem(data.display_name, "displayName", problems)
    practice_name = (
        normalize_name(data.practice_name, required=False) if data.practice_name else None
    )
    problems += await check_password(
        services.settings, data.password, user_inputs=[email, display_name, practice_name or ""]
    )
    if problems:
        raise invalid_input(problems)
    password_hash = await hash_password(services.settings, data.password)

    async def work(uow: UnitOfWork) -> User:
        user = await User.create(
            email=email, password_hash=password_hash, role=Role.PROVIDER, using_db=uow.conn
        )
        await Provider.create(
            user=user, display_name=display_name, practice_name=practice_name, using_db=uow.conn
        )
        await uow.add_outbox(EmailKind.CONFIRM_ACCOUNT, {"user_id": str(user.id)})
        return user

    try:
        user = await in_unit_of_work(services, work)
    except IntegrityError:
        raise _email_taken() from None
    return await open_session(services.settings, user)


async def sign_up_client(
    services: Services, data: ClientSignUp, *, address: str | None = None
) -> IssuedSession:
    await _throttle_signup(services, address)
    problems: list[FieldProblem] = []
    email = _email_or_problem(data.email, problems)
    first = _name_or_problem(data.first_name, "firstName", problems)
    last = _name_or_problem(data.last_name, "lastName", problems)
    problems += await check_password(
        services.settings, data.password, user_inputs=[email, first, last]
    )
    if problems:
        raise invalid_input(problems)
    password_hash = await hash_password(services.settings, data.password)

    async def work(uow: UnitOfWork) -> User:
        user = await User.create(
            email=email, password_hash=password_hash, role=Role.CLIENT, using_db=uow.conn
        )
        await Client.create(
            user=user,
            legal_first_name=first,
            legal_last_name=last,
            **search_fields(first, last, None, email),
            using_db=uow.conn,
        )
        await uow.add_outbox(EmailKind.CONFIRM_ACCOUNT, {"user_id": str(user.id)})
        return user

    try:
        user = await in_unit_of_work(services, work)
    except IntegrityError:
        raise _email_taken() from None
    return await open_session(services.settings, user)


async def log_in(
    services: Services, email: str, password: str, *, address: str | None = None
) -> IssuedSession:
    """Failures count per account and per (account, address); RATE_LIMITED names the reset."""
    normalized = login_email(email)
    counters = await login_counters(services.limiter, normalized, address)
    await check_not_locked(services, counters)
    user = await User.get_or_none(email=normalized)
    password_hash = user.password_hash if user else None
    if not await verify_password(services.settings, password_hash, password) or user is None:
        await count_failure(services, counters)
        raise AuthFailure(
            "The e-mail or password is not right.", code=ErrorCode.INVALID_CREDENTIALS
        )
    if counters.pair:
        await services.limiter.reset(counters.pair)
    return await open_session(services.settings, user)


async def log_out(services: Services, actor: Actor | None) -> bool:
    if actor is None or actor.session_id is None:
        return False
    await revoke_session(services, actor.session_id)
    return True


async def resend_email_confirmation(services: Services, actor: Actor | None) -> bool:
    """Send the sign-up confirmation again; true whether or not one went (rate-limited, done)."""
    if actor is None:
        return False
    if not await services.limiter.hit(
        f"confirm:resend:{actor.user_id}",
        limit=services.settings.email_confirmation_resends_per_hour,
        window_seconds=3600,
    ):
        return True
    user = await User.get_or_none(id=actor.user_id)
    if user is None or user.email_verified_at is not None:
        return True

    async def work(uow: UnitOfWork) -> None:
        await uow.add_outbox(EmailKind.CONFIRM_ACCOUNT, {"user_id": str(user.id)})

    await in_unit_of_work(services, work)
    return True


async def viewer_account(actor: Actor | None) -> User | None:
    """The account behind the request (`me`), or None when logged out or gone."""
    if actor is None:
        return None
    return await User.get_or_none(id=actor.user_id)


async def provider_profile(user: User) -> Provider | None:
    """A provider account's practice profile; None for every other role."""
    if user.role is not Role.PROVIDER:
        return None
    return await Provider.get_or_none(user_id=user.id)


async def create_staff(email: str, password: str, *, settings: Settings | None = None) -> User:
    """Make a staff account (the CLI's create-staff)."""
    settings = settings or get_settings()
    problems: list[FieldProblem] = []
    normalized = _email_or_problem(email, problems)
    problems += await check_password(settings, password, user_inputs=[normalized])
    if problems:
        raise invalid_input(problems)
    password_hash = await hash_password(settings, password)
    try:
        return await User.create(email=normalized, password_hash=password_hash, role=Role.STAFF)
    except IntegrityError:
        raise _email_taken() from None
