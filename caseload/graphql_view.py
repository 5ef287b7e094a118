"""Strawberry's ASGI view wired to our context: bearer tokens over HTTP, connection_init over WS."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UnsetType

from caseload.live_sockets import OpenSocket, SocketHub
from caseload.ws_handler import SessionSocketHandler
from resolvers.ports import Services
from resolvers.sessions import authenticate
from schema.context import Context


def bearer_token(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def client_address(request: Request | WebSocket) -> str | None:
    return request.client.host if request.client else None


def connection_token(params: dict[str, Any]) -> str | None:
    """The token of a connection_init payload: key `authorization` in any letter case,
    `Bearer <token>` or the bare token."""
    raw = next(
        (v for k, v in params.items() if isinstance(k, str) and k.lower() == "authorization"),
        None,
    )
    if not isinstance(raw, str):
        return None
    value = raw.strip()
    return bearer_token(value) if " " in value else value or None


class CaseloadGraphQL(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = SessionSocketHandler

    def __init__(self, services: Services, sockets: SocketHub, **kwargs: Any) -> None:
        settings = services.settings
        super().__init__(
            graphql_ide=None if settings.production else "graphiql",
            allow_queries_via_get=False,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            multipart_uploads_enabled=True,
            allowed_origins=settings.allowed_origins,
            connection_init_wait_timeout=timedelta(
                seconds=settings.ws_connection_init_timeout_seconds
            ),
            # Subscriptions are capped by the socket (with a code); this bounds every
            # operation in flight on one socket, queries included.
            max_subscriptions_per_connection=settings.max_subscriptions_per_socket + 10,
            **kwargs,
        )
        self.services = services
        self.sockets = sockets

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        actor = None
        if isinstance(request, Request):
            token = bearer_token(request.headers.get("authorization"))
            actor = await authenticate(self.services.settings, token)
        return Context(
            services=self.services,
            actor=actor,
            address=client_address(request),
            request=request,
            response=response,
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Only a live session may hold a socket: anything else is closed 4403."""
        token = connection_token(context.connection_params)
        actor = await authenticate(self.services.settings, token) if token else None
        if actor is None or not isinstance(context.socket, OpenSocket):
            raise ConnectionRejectionError({"reason": "invalid or expired token"})
        context.actor = actor
        await context.socket.start(actor)  # SocketRefused closes it (too many, or just ended)
        return None
