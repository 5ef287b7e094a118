"""What use cases need from the runtime (queue, events, rate limits), as small protocols."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from caseload.settings import Settings


class JobQueue(Protocol):
    async def enqueue(
        self, function: str, *args: Any, job_id: str, defer_seconds: float | None = None
    ) -> bool:
        """Queue a job; False when the queue is unreachable (the sweeper retries later)."""


class EventBus(Protocol):
    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        """Best-effort live event; losing one never loses data."""

    def listen(self, *channels: str) -> AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]]:
        """Subscribed once entered, so state read afterwards misses no event."""


# How a use case that follows a live stream listens: the schema passes one that also holds
# the socket's subscription slot and renews its loaders per event.
Listen = Callable[[str], AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]]]


class RateLimiter(Protocol):
    async def hit(self, key: str, *, limit: int, window_seconds: int) -> bool:
        """Count one attempt; False once `limit` attempts fell in the window."""

    async def count(self, key: str) -> int: ...

    async def reset(self, key: str) -> None: ...


@dataclass(frozen=True)
class Services:
    settings: Settings
    queue: JobQueue
    events: EventBus
    limiter: RateLimiter


class LiveSocket(Protocol):
    """The WebSocket an operation runs on: its live subscriptions count against caps."""

    def subscription(self) -> AbstractAsyncContextManager[None]:
        """Hold one subscription slot while entered; TooManySubscriptions when none is free."""
