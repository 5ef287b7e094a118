"""Password hashing (argon2) off the event loop, the strength check, and opaque random tokens."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property, lru_cache, partial
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from caseload.priority import lower_priority
from caseload.settings import Settings

T = TypeVar("T")

# zxcvbn's cost grows fast with length (about 0.5 s of CPU at 256 characters); the first 72
# characters decide whether a password is guessable, as they do for bcrypt.
STRENGTH_CHECKED_CHARS = 72
MIN_STRENGTH_SCORE = 3  # zxcvbn: 3 = "safely unguessable", about 10^10 guesses
# Hashing threads run at a lower CPU priority than the event loop: on a machine with as many
# cores as hashing threads, a burst of log-ins would otherwise take every core from the loop
# that answers all other requests (and /healthz).
HASHING_NICENESS = 10


class _Hashing:
    def __init__(self, time_cost: int, memory_cost: int, threads: int) -> None:
        self.hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost)
        # Hashes, verifications and strength checks of one process wait here for a free
        # thread, so a burst of log-ins costs bounded memory (memory_cost each) and CPU, and
        # never blocks the event loop.
        self.pool = ThreadPoolExecutor(
            max_workers=threads,
            thread_name_prefix=f"password-t{time_cost}-m{memory_cost}",
            initializer=partial(lower_priority, HASHING_NICENESS),
        )

    @cached_property
    def dummy_hash(self) -> str:
        """Verified against when the account does not exist, so timing does not reveal which
        e-mails exist; made (in a pool thread, on first use) with the cost of real hashes."""
        return self.hasher.hash("caseload-dummy-password")


@lru_cache(maxsize=4)
def _hashing(time_cost: int, memory_cost: int, threads: int) -> _Hashing:
    return _Hashing(time_cost, memory_cost, threads)


def _for(settings: Settings) -> _Hashing:
    return _hashing(
        settings.password_hash_time_cost,
        settings.password_hash_memory_cost,
        settings.password_hash_threads,
    )


async def _off_loop(hashing: _Hashing, work: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(hashing.pool, work)


async def hash_password(settings: Settings, password: str) -> str:
    hashing = _for(settings)
    return await _off_loop(hashing, lambda: hashing.hasher.hash(password))


async def verify_password(settings: Settings, password_hash: str | None, password: str) -> bool:
    hashing = _for(settings)

    def check() -> bool:
        try:
            return hashing.hasher.verify(password_hash or hashing.dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await _off_loop(hashing, check) and password_hash is not None


@dataclass(frozen=True)
class Weakness:
    """Why a password is easy to guess, in zxcvbn's generic words (never the password)."""

    warning: str
    suggestions: list[str]

    def __str__(self) -> str:
        reasons = [self.warning] if self.warning else []
        return " ".join(reasons + self.suggestions) or "Use a longer, less common password."


async def password_weakness(
    settings: Settings, password: str, user_inputs: Sequence[str] = ()
) -> Weakness | None:
    """None when zxcvbn scores the password 3 or more, else why not; user_inputs count as known."""
    inputs = [value for value in user_inputs if value]

    def score() -> Weakness | None:
        result = zxcvbn(password[:STRENGTH_CHECKED_CHARS], user_inputs=inputs)
        if result["score"] >= MIN_STRENGTH_SCORE:
            return None
        feedback = result["feedback"]
        return Weakness(str(feedback.get("warning") or ""), list(feedback.get("suggestions", [])))

    return await _off_loop(_for(settings), score)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
