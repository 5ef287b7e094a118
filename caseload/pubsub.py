"""One Redis pub/sub connection per API process, fanned out to every local subscriber."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager, suppress
from typing import Any

from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.exceptions import RedisError

from resolvers.errors import EventsLagged, EventsUnavailable

log = logging.getLogger(__name__)

# A silent connection is pinged after this long, and given up after twice that.
_IDLE_PING_SECONDS = 15.0
_RECONNECT_DELAYS = (0.1, 0.25, 0.5, 1.0)


class _Listener:
    """One local subscriber: a bounded queue; overflowing it ends the stream (EventsLagged)."""

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(size)
        self.lagged = False

    def offer(self, event: dict[str, Any]) -> None:
        if self.lagged:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            # Dropping events silently would leave a client with a wrong list; ending the
            # stream tells it to subscribe again and re-read.
            self.lagged = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            event = await self.queue.get()
            if event is None:
                raise EventsLagged()
            yield event


class PubSubBroker:
    """Subscribes each channel once, however many local streams listen to it.

    Channels are reference-counted: the first listener sends SUBSCRIBE and waits for Redis to
    confirm it, so a listener that has entered misses no later event; the last one to leave
    sends UNSUBSCRIBE. After losing Redis the reader reconnects and subscribes again to every
    channel still listened to.
    """

    def __init__(self, url: str, *, queue_size: int = 256, confirm_timeout: float = 5.0) -> None:
        pool = ConnectionPool.from_url(url)
        self._make_connection: Callable[[], AbstractConnection] = lambda: pool.connection_class(
            **pool.connection_kwargs
        )
        self.queue_size = queue_size
        self.confirm_timeout = confirm_timeout
        self._listeners: dict[str, set[_Listener]] = {}
        # Resolved once Redis confirmed the channel on the current connection.
        self._ready: dict[str, asyncio.Future[None]] = {}
        # SUBSCRIBE commands sent on the current connection and not yet confirmed.
        self._unconfirmed: dict[str, int] = {}
        self._conn: AbstractConnection | None = None
        self._send_lock = asyncio.Lock()
        # SUBSCRIBE/UNSUBSCRIBE go out in the order they were asked for, through one writer,
        # and leaving a channel never waits (it runs in finally blocks of cancelled tasks).
        self._commands: asyncio.Queue[tuple[str, list[str]]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._reconnect_hooks: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self._connected = asyncio.Event()

    def on_reconnect(self, hook: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `hook` after each recovery from a lost connection (events may have been lost)."""
        self._reconnect_hooks.append(hook)

    async def start(self, wait: float = 5.0) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name="pubsub-reader"),
            asyncio.create_task(self._write(), name="pubsub-writer"),
        ]
        with suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), wait)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        if self._conn is not None:
            await self._conn.disconnect()
            self._conn = None

    @property
    def channel_count(self) -> int:
        return len(self._listeners)

    @asynccontextmanager
    async def listen(self, *channels: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        listener = _Listener(self.queue_size)
        await self._add(listener, channels)
        try:
            yield listener.events()
        finally:
            self._remove(listener, channels)

    async def _add(self, listener: _Listener, channels: tuple[str, ...]) -> None:
        loop = asyncio.get_running_loop()
        new = []
        for channel in channels:
            listeners = self._listeners.setdefault(channel, set())
            if not listeners:
                new.append(channel)
                self._ready[channel] = loop.create_future()
            listeners.add(listener)
        try:
            if new:
                self._commands.put_nowait(("SUBSCRIBE", new))
            waits = [asyncio.shield(self._ready[channel]) for channel in channels]
            await asyncio.wait_for(asyncio.gather(*waits), self.confirm_timeout)
        except TimeoutError:
            self._remove(listener, channels)
            raise EventsUnavailable() from None
        except BaseException:
            self._remove(listener, channels)
            raise

    def _remove(self, listener: _Listener, channels: tuple[str, ...]) -> None:
        gone = []
        for channel in channels:
            listeners = self._listeners.get(channel)
            if listeners is None or listener not in listeners:
                continue
            listeners.discard(listener)
            if not listeners:
                del self._listeners[channel]
                ready = self._ready.pop(channel, None)
                if ready is not None and not ready.done():
                    ready.cancel()
                gone.append(channel)
        if gone:
            self._commands.put_nowait(("UNSUBSCRIBE", gone))

    async def _write(self) -> None:
        """Send each queued command on the live connection; without one, the reconnect
        subscribes every channel still listened to, so nothing is lost by dropping it."""
        while True:
            command, channels = await self._commands.get()
            async with self._send_lock:
                conn = self._conn
                if conn is None or not conn.is_connected:
                    continue
                if command == "SUBSCRIBE":
                    for channel in channels:
                        self._unconfirmed[channel] = self._unconfirmed.get(channel, 0) + 1
                with suppress(RedisError, OSError):  # the reader sees the drop and reconnects
                    await conn.send_command(command, *channels, check_health=False)

    async def _run(self) -> None:
        lost = False
        attempt = 0
        while True:
            conn = self._make_connection()
            try:
                # redis 5.3 leaves AbstractConnection.connect unannotated
                await conn.connect()  # type: ignore[no-untyped-call]
                async with self._send_lock:
                    self._conn = conn
                    self._unconfirmed.clear()
                    channels = list(self._listeners)
                    if channels:
                        for channel in channels:
                            self._unconfirmed[channel] = 1
                        await conn.send_command("SUBSCRIBE", *channels, check_health=False)
                self._connected.set()
                attempt = 0
                if lost:
                    lost = False
                    log.info(
                        "pub/sub reconnected to Redis; %d channels resubscribed", len(channels)
                    )
                    for hook in self._reconnect_hooks:
                        asyncio.create_task(hook())  # noqa: RUF006 - hooks log their own failures
                await self._read(conn)
            except (RedisError, OSError) as error:
                if not lost:
                    log.warning(
                        "pub/sub lost Redis (%s); resubscribing once it is back",
                        type(error).__name__,
                    )
                    lost = True
            finally:
                self._connected.clear()
                async with self._send_lock:
                    self._conn = None
                    self._unconfirmed.clear()
                    loop = asyncio.get_running_loop()
                    for channel, ready in list(self._ready.items()):
                        if ready.done():
                            # Listeners joining now wait for the resubscription.
                            self._ready[channel] = loop.create_future()
                with suppress(Exception):
                    await conn.disconnect()
            await asyncio.sleep(_RECONNECT_DELAYS[min(attempt, len(_RECONNECT_DELAYS) - 1)])
            attempt += 1

    async def _read(self, conn: AbstractConnection) -> None:
        pinged = False
        while True:
            response = await conn.read_response(timeout=_IDLE_PING_SECONDS)
            if response is None:
                if pinged:
                    raise ConnectionError("pub/sub connection silent after PING")
                pinged = True
                async with self._send_lock:
                    await conn.send_command("PING", check_health=False)
                continue
            pinged = False
            kind = _text(response[0])
            if kind == "message":
                self._dispatch(_text(response[1]), response[2])
            elif kind == "subscribe":
                self._confirmed(_text(response[1]))

    def _confirmed(self, channel: str) -> None:
        left = self._unconfirmed.get(channel, 0) - 1
        if left > 0:
            self._unconfirmed[channel] = left
            return
        self._unconfirmed.pop(channel, None)
        ready = self._ready.get(channel)
        if ready is not None and not ready.done():
            ready.set_result(None)

    def _dispatch(self, channel: str, data: bytes) -> None:
        listeners = self._listeners.get(channel)
        if not listeners:
            return
        try:
            event = json.loads(data)
        except ValueError:
            log.warning("undecodable event on %s dropped", channel.split(":")[0])
            return
        # One decoded event is shared by every listener.
        for listener in listeners:
            listener.offer(event)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


__all__ = ["EventsLagged", "EventsUnavailable", "PubSubBroker"]
