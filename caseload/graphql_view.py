"""Strawberry's ASGI view wired to our context: bearer tokens over HTTP, connection_init over WS."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UnsetType

from caseload.graphql_http import UNAUTHENTICATED, GraphQLOverHTTP, RequestError
from caseload.origins import OriginPolicy
from caseload.persisted_queries import PersistedQueries
from resolvers.ports import Services
from resolvers.sessions import authenticate
from schema.context import Context

INVALID_TOKEN = "The access token is invalid or has expired: log in again."


def bearer_token(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def client_address(request: Request | WebSocket) -> str | None:
    return request.client.host if request.client else None


class CaseloadGraphQL(GraphQLOverHTTP, GraphQL[Context, None]):
    def __init__(
        self,
        services: Services,
        *,
        persisted_queries: PersistedQueries | None = None,
        ide_html: str | None = None,
        **kwargs: Any,
    ) -> None:
        settings = services.settings
        super().__init__(
            graphql_ide="graphiql" if ide_html else None,
            allow_queries_via_get=True,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            multipart_uploads_enabled=True,
            allowed_origins=settings.allowed_origins,
            **kwargs,
        )
        self.services = services
        self.persisted_queries = persisted_queries
        self.max_document_bytes = settings.max_document_bytes
        self.max_variable_depth = settings.max_variable_depth
        self.origins = OriginPolicy.from_settings(settings)
        self.ide_html = ide_html

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(self.ide_html or "")

    def is_websocket_origin_allowed(self, request: WebSocket, origin: str) -> bool:
        return self.origins.allows(origin)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        actor = None
        if isinstance(request, Request):
            header = (request.headers.get("authorization") or "").strip()
            if header:  # a token that does not work is refused, never read as anonymous
                token = bearer_token(header)
                actor = await authenticate(self.services.settings, token) if token else None
                if actor is None:
                    raise RequestError(
                        401,
                        INVALID_TOKEN,
                        UNAUTHENTICATED,
                        headers={"www-authenticate": 'Bearer error="invalid_token"'},
                    )
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
