"""Strawberry's ASGI view wired to our context: bearer tokens over HTTP, connection_init over WS."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UnsetType

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


class CaseloadGraphQL(GraphQL[Context, None]):
    def __init__(self, services: Services, **kwargs: Any) -> None:
        settings = services.settings
        super().__init__(
            graphql_ide=None if settings.production else "graphiql",
            allow_queries_via_get=False,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            multipart_uploads_enabled=True,
            allowed_origins=settings.allowed_origins,
            **kwargs,
        )
        self.services = services

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
        raw = context.connection_params.get("authorization")
        if raw is None:
            return None  # anonymous: subscriptions that need an account answer with an error
        token = bearer_token(raw)
        actor = await authenticate(self.services.settings, token) if token else None
        if actor is None:
            raise ConnectionRejectionError({"reason": "invalid or expired token"})
        context.actor = actor
        return None
