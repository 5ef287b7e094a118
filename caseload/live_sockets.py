"""This process's open WebSockets by session: closed when it is revoked or expires, and capped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from uuid import uuid4

from redis.asyncio import BlockingConnectionPool, Redis

from caseload.pubsub import PubSubBroker
from caseload.settings import Settings
from caseload.socket_limits import SlotCounter
from resolvers.accounts.sessions import session_deadlines
from resolvers.actor import Actor
from resolvers.effects import SESSIONS_REVOKED, SessionsRevoked
from resolvers.errors import DomainError, ErrorCode, TooManySubscriptions

log = logging.getLogger(__name__)

# graphql-transport-ws closes: 4403 when the session is gone, 4429 when the account has
# too many sockets open.
FORBIDDEN = 4403
TOO_MANY_SOCKETS = 4429

# After a failed session re-read (database away), the next try is this much later.
_RETRY_CHECK_SECONDS = 5.0


class SocketRefused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


class OpenSocket:
    """One WebSocket's session: checked before each operation and at its deadline."""

    def __init__(self, hub: SocketHub, close: Callable[[], Awaitable[None]]) -> None:
        self.hub = hub
        self.id = uuid4().hex
        self.actor: Actor | None = None
        self.ended = False
        self.subscriptions = 0
        self._close = close
        self._timer: asyncio.Task[None] | None = None
        self._registered = False

    @property
    def session_id(self) -> str:
        assert self.actor is not None
        return str(self.actor.session_id)

    async def start(self, actor: Actor) -> None:
        """Bind the socket to `actor`'s session; SocketRefused when the account has too many."""
        self.actor = actor
        settings = self.hub.settings
        if not await self.hub.slots.take(
            _sockets_key(actor), self.id, limit=settings.max_sockets_per_user
        ):
            raise SocketRefused(
                TOO_MANY_SOCKETS,
                f"This account has {settings.max_sockets_per_user} connections open, the most "
                "allowed; close one and reconnect.",
            )
        self.hub.register(self)
        self._registered = True
        # Read after registering: a revocation published in between is seen either way.
        deadline = (await session_deadlines(settings, [self.session_id])).get(self.session_id)
        if deadline is None:
            await self.stop()
            raise SocketRefused(FORBIDDEN, "Forbidden")
        self._schedule((deadline - datetime.now(UTC)).total_seconds())

    async def check(self, *, touch: bool = True) -> bool:
        """Re-read the session; end the socket when it is no longer usable."""
        if self.ended or self.actor is None:
            return False
        deadline = (await session_deadlines(self.hub.settings, [self.session_id], touch=touch)).get(
            self.session_id
        )
        if deadline is None:
            await self.end()
            return False
        self._schedule((deadline - datetime.now(UTC)).total_seconds())
        return True

    async def end(self) -> None:
        """Close with 4403 once; nothing runs on the socket afterwards."""
        if self.ended:
            return
        self.ended = True
        self._cancel_timer()
        try:
            await self._close()
        except Exception as error:  # noqa: BLE001 - the peer may already be gone
            log.info("socket already closed (%s)", type(error).__name__)

    async def stop(self) -> None:
        """The socket is gone: forget it and give its slot back."""
        self.ended = True
        self._cancel_timer()
        if self._registered and self.actor is not None:
            self._registered = False
            self.hub.unregister(self)
            await self.hub.slots.give_back(_sockets_key(self.actor), self.id)

    @asynccontextmanager
    async def subscription(self) -> AsyncIterator[None]:
        settings = self.hub.settings
        if self.ended or self.actor is None:
            raise DomainError(
                "Your session has ended. Log in again.", code=ErrorCode.UNAUTHENTICATED
            )
        if self.subscriptions >= settings.max_subscriptions_per_socket:
            raise TooManySubscriptions(
                f"This connection has {settings.max_subscriptions_per_socket} live "
                "subscriptions, the most allowed; complete one before starting another."
            )
        self.subscriptions += 1
        member = f"{self.id}:{uuid4().hex}"
        key = _subscriptions_key(self.actor)
        try:
            if not await self.hub.slots.take(
                key, member, limit=settings.max_subscriptions_per_user
            ):
                raise TooManySubscriptions(
                    f"Your account has {settings.max_subscriptions_per_user} live subscriptions "
                    "open across its connections, the most allowed; complete some or close a "
                    "tab first."
                )
            try:
                yield
            finally:
                await self.hub.slots.give_back(key, member)
        finally:
            self.subscriptions -= 1

    def _schedule(self, delay: float) -> None:
        self._cancel_timer()
        self._timer = asyncio.create_task(self._expire_after(delay), name="socket-session-timer")

    def _cancel_timer(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()

    async def _expire_after(self, delay: float) -> None:
        # A little late rather than early: at the deadline itself the session is over.
        await asyncio.sleep(max(delay, 0.0) + 0.05)
        try:
            await self.check(touch=False)
        except Exception as error:  # noqa: BLE001 - the database may be away; try again
            log.warning("socket session re-check failed (%s)", type(error).__name__)
            self._schedule(_RETRY_CHECK_SECONDS)


class SocketHub:
    """Closes this process's sockets of every session revoked on any process."""

    def __init__(self, settings: Settings, broker: PubSubBroker) -> None:
        self.settings = settings
        self.broker = broker
        # A few connections of its own that callers queue for: a burst of sockets opening at
        # once must not open a Redis connection each.
        self._redis = Redis(
            connection_pool=BlockingConnectionPool.from_url(
                settings.redis_url or "", max_connections=4, timeout=5, socket_connect_timeout=2
            )
        )
        self.slots = SlotCounter(self._redis)
        self._by_session: dict[str, set[OpenSocket]] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    def socket(self, close: Callable[[], Awaitable[None]]) -> OpenSocket:
        return OpenSocket(self, close)

    def register(self, socket: OpenSocket) -> None:
        self._by_session.setdefault(socket.session_id, set()).add(socket)

    def unregister(self, socket: OpenSocket) -> None:
        sockets = self._by_session.get(socket.session_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self._by_session[socket.session_id]

    @property
    def open_sockets(self) -> int:
        return sum(len(sockets) for sockets in self._by_session.values())

    async def start(self, wait: float = 5.0) -> None:
        self.slots.start()
        self.broker.on_reconnect(self.recheck_all)
        self._watcher = asyncio.create_task(self._watch(), name="sessions-revoked")
        with suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), wait)

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with suppress(asyncio.CancelledError):
                await self._watcher
        await self.slots.stop()
        await self._redis.aclose()

    async def recheck_all(self) -> None:
        """Re-read every session with an open socket here, in one query (events may be lost)."""
        try:
            live = await session_deadlines(self.settings, list(self._by_session))
        except Exception as error:  # noqa: BLE001 - a later revocation or deadline still ends them
            log.warning("socket sessions not re-checked (%s)", type(error).__name__)
            return
        for session_id in set(self._by_session) - set(live):
            self._end_session(session_id)

    def _end_session(self, session_id: str) -> None:
        for socket in list(self._by_session.get(session_id, ())):
            asyncio.create_task(socket.end())  # noqa: RUF006 - end() never raises

    async def _watch(self) -> None:
        while True:
            try:
                async with self.broker.listen(SESSIONS_REVOKED) as events:
                    self._listening.set()
                    async for event in events:
                        for session_id in set(SessionsRevoked.from_json(event).session_ids):
                            self._end_session(session_id)
            except DomainError as error:  # unavailable or lagged: re-read, then listen again
                log.warning("session revocations interrupted (%s)", error.code)
            except Exception as error:  # noqa: BLE001 - this listener must outlive any failure
                log.warning("session revocations interrupted (%s)", type(error).__name__)
            await self.recheck_all()
            await asyncio.sleep(1.0)


def _sockets_key(actor: Actor) -> str:
    return f"live:sockets:{actor.user_id}"


def _subscriptions_key(actor: Actor) -> str:
    return f"live:subscriptions:{actor.user_id}"
