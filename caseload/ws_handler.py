"""graphql-transport-ws bound to a log-in session: checked per operation, closed when it ends."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    SubscribeMessage,
)

from caseload.live_sockets import FORBIDDEN, SocketHub, SocketRefused
from schema.context import Context


class SessionSocketHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """Every operation re-reads the session first; revocation or expiry closes the socket 4403."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        hub: SocketHub = self.view.sockets  # type: ignore[attr-defined]
        self.live = hub.socket(self._end)
        self.context.socket = self.live

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except SocketRefused as refused:
            await self.websocket.close(code=refused.code, reason=refused.reason)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if self.connection_acknowledged and not await self.live.check():
            return  # the session is over and the socket closed
        await super().handle_subscribe(message)

    async def _end(self) -> None:
        for operation_id in list(self.operations):
            await self.cleanup_operation(operation_id)
        with suppress(RuntimeError):  # already closed by the peer or the protocol
            await self.websocket.close(code=FORBIDDEN, reason="Forbidden")

    async def shutdown(self) -> None:
        try:
            await super().shutdown()
        finally:
            await self.live.stop()
