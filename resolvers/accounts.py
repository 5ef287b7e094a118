"""Sign-up, log-in and log-out of providers, clients and staff."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError

from caseload.security import hash_password, verify_password
from importing.fields import FieldInvalid, normalize_email, normalize_name
from models import Client, Provider, Role, User
from resolvers.actor import Actor
from resolvers.errors import AuthFailure, DomainError, FieldProblem, InvalidInput
from resolvers.names import search_fields
from resolvers.ports import Services
from resolvers.sessions import IssuedSession, open_session, revoke_session
from resolvers.unit_of_work import UnitOfWork, in_unit_of_work

MIN_PASSWORD = 10
MAX_PASSWORD = 256
SIGNUPS_PER_ADDRESS_PER_HOUR = 20

EMAIL_CONFIRMATION = "email.confirm_account"


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


class RateLimited(DomainError):
    code = "RATE_LIMITED"


def _hashed(value: str) -> str:
    # Redis keys carry no e-mail addresses.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def check_password(password: str) -> list[FieldProblem]:
    if len(password) < MIN_PASSWORD:
        return [FieldProblem("password", f"must be at least {MIN_PASSWORD} characters")]
    if len(password) > MAX_PASSWORD:
        return [FieldProblem("password", f"must be at most {MAX_PASSWORD} characters")]
    return []


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
        f"signup:ip:{address}", limit=SIGNUPS_PER_ADDRESS_PER_HOUR, window_seconds=3600
    ):
        raise RateLimited("Too many sign-ups from this address. Try again in an hour.")


def _email_taken() -> InvalidInput:
    error = InvalidInput(
        [FieldProblem("email", "already has an account: log in, or use the link in your e-mail")],
        "An account with this e-mail already exists.",
    )
    error.code = "EMAIL_TAKEN"
    return error


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
    problems += check_password(data.password)
    if problems:
        raise InvalidInput(problems)
    password_hash = hash_password(data.password)

    async def work(uow: UnitOfWork) -> User:
        user = await User.create(
            email=email, password_hash=password_hash, role=Role.PROVIDER, using_db=uow.conn
        )
        await Provider.create(
            user=user, display_name=display_name, practice_name=practice_name, using_db=uow.conn
        )
        await uow.add_outbox(EMAIL_CONFIRMATION, {"user_id": str(user.id)})
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
    problems += check_password(data.password)
    if problems:
        raise InvalidInput(problems)
    password_hash = hash_password(data.password)

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
        await uow.add_outbox(EMAIL_CONFIRMATION, {"user_id": str(user.id)})
        return user

    try:
        user = await in_unit_of_work(services, work)
    except IntegrityError:
        raise _email_taken() from None
    return await open_session(services.settings, user)


async def log_in(
    services: Services, email: str, password: str, *, address: str | None = None
) -> IssuedSession:
    settings = services.settings
    try:
        normalized = normalize_email(email)
    except FieldInvalid:
        normalized = email.strip().lower()
    keys = [f"login:fail:email:{_hashed(normalized)}"]
    if address:
        keys.append(f"login:fail:ip:{address}")
    limits = [settings.login_max_failures, settings.login_max_failures * 10]
    for key, limit in zip(keys, limits, strict=False):
        if await services.limiter.count(key) >= limit:
            raise RateLimited("Too many failed log-ins. Wait 15 minutes, or reset your password.")
    user = await User.get_or_none(email=normalized)
    if not verify_password(user.password_hash if user else None, password) or user is None:
        for key, limit in zip(keys, limits, strict=False):
            await services.limiter.hit(
                key, limit=limit, window_seconds=settings.login_failure_window_seconds
            )
        raise AuthFailure("The e-mail or password is not right.", code="INVALID_CREDENTIALS")
    await services.limiter.reset(keys[0])
    return await open_session(settings, user)


async def log_out(services: Services, actor: Actor | None) -> bool:
    if actor is None or actor.session_id is None:
        return False
    await revoke_session(services, actor.session_id)
    return True


async def create_staff(email: str, password: str) -> User:
    """Make a staff account (the CLI's create-staff)."""
    problems: list[FieldProblem] = []
    normalized = _email_or_problem(email, problems)
    problems += check_password(password)
    if problems:
        raise InvalidInput(problems)
    try:
        return await User.create(
            email=normalized, password_hash=hash_password(password), role=Role.STAFF
        )
    except IntegrityError:
        raise _email_taken() from None
