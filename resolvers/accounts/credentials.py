"""The credentials policy: which passwords are accepted, and the failed-log-in lockouts."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from caseload.security import password_weakness
from caseload.settings import Settings
from importing.fields import FieldInvalid, normalize_email
from resolvers.errors import FieldProblem, InvalidInput, RateLimited
from resolvers.ports import RateLimiter, Services

MIN_PASSWORD = 10
MAX_PASSWORD = 256


def hashed(value: str) -> str:
    # Redis keys carry no e-mail or IP addresses.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def login_email(raw: str) -> str:
    """The address as the account stores it; an unreadable one still gets its own counter."""
    try:
        return normalize_email(raw)
    except FieldInvalid:
        return raw.strip().lower()


async def check_password(
    settings: Settings, password: str, *, field: str = "password", user_inputs: Sequence[str] = ()
) -> list[FieldProblem]:
    """Length first, then zxcvbn (score 3 or more); the e-mail and names count as known words."""
    if len(password) < MIN_PASSWORD:
        return [FieldProblem(field, f"must be at least {MIN_PASSWORD} characters")]
    if len(password) > MAX_PASSWORD:
        return [FieldProblem(field, f"must be at most {MAX_PASSWORD} characters")]
    weakness = await password_weakness(settings, password, user_inputs)
    if weakness is not None:
        return [FieldProblem(field, f"is too easy to guess. {weakness}")]
    return []


def invalid_input(problems: list[FieldProblem]) -> InvalidInput:
    """The input error; a password alone at fault says why in the error's own message."""
    if len(problems) == 1 and "password" in problems[0].field.lower():
        return InvalidInput(problems, f"The password {problems[0].message}")
    return InvalidInput(problems)


@dataclass(frozen=True)
class LoginCounters:
    """The failed-log-in counters of one account, seen from one client address."""

    account: str
    pair: str | None


async def login_counters(limiter: RateLimiter, email: str, address: str | None) -> LoginCounters:
    account = hashed(email)
    # A reset bumps the account's epoch, which starts every (account, address) pair afresh
    # without finding them; the epoch key lives as long as a failure window, as pairs do.
    epoch = await limiter.count(f"login:epoch:{account}")
    pair = f"login:fail:pair:{account}:{epoch}:{hashed(address)}" if address else None
    return LoginCounters(account=f"login:fail:account:{account}", pair=pair)


def locked_out(settings: Settings) -> RateLimited:
    minutes = max(1, settings.login_failure_window_seconds // 60)
    return RateLimited(
        f"Too many failed log-ins. Wait {minutes} minutes, or reset your password: "
        "ask for a password-reset e-mail and follow its link to log in at once."
    )


async def check_not_locked(services: Services, counters: LoginCounters) -> None:
    settings, limiter = services.settings, services.limiter
    if await limiter.count(counters.account) >= settings.login_max_failures_per_account:
        raise locked_out(settings)
    if counters.pair and await limiter.count(counters.pair) >= settings.login_max_failures:
        raise locked_out(settings)


async def count_failure(services: Services, counters: LoginCounters) -> None:
    settings, limiter = services.settings, services.limiter
    window = settings.login_failure_window_seconds
    await limiter.hit(
        counters.account, limit=settings.login_max_failures_per_account, window_seconds=window
    )
    if counters.pair:
        await limiter.hit(counters.pair, limit=settings.login_max_failures, window_seconds=window)


async def clear_lockout(services: Services, email: str) -> None:
    """After a password reset: the account and every (account, address) pair start at zero."""
    account = hashed(email)
    await services.limiter.reset(f"login:fail:account:{account}")
    await services.limiter.hit(
        f"login:epoch:{account}",
        limit=2**31,
        window_seconds=services.settings.login_failure_window_seconds,
    )
