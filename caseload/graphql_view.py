"""Strawberry's ASGI view wired to our context: bearer tokens over HTTP, connection_init over WS."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UnsetType

from caseload.graphql_http import UNAUTHENTICATED, GraphQLOverHTTP, RequestError
from caseload.live_sockets import OpenSocket, SocketHub
from caseload.origins import OriginPolicy
from caseload.persisted_queries import PersistedQueries
from caseload.ws_handler import SessionSocketHandler
from resolvers.accounts.sessions import authenticate
from resolvers.ports import Services
from schema.context import Context

INVALID_TOKEN = "The access token is invalid or has expired: log in again."


def bearer_token(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _ip(value: str) -> IPv4Address | IPv6Address | None:
    try:
        address = ip_address(value.strip())
    except ValueError:
        return None
    # a dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d
    return (address.ipv4_mapped or address) if isinstance(address, IPv6Address) else address


def client_address(
    request: Request | WebSocket, trusted_proxies: Sequence[IPv4Network | IPv6Network] = ()
) -> str | None:
    """The address of the client: the direct peer, unless that is a trusted proxy.

    Behind trusted proxies, X-Forwarded-For is read from the right (the hops our own proxies
    appended) and the first address that is not a trusted proxy is the client's; what lies to
    its left was written by the client and is ignored.
    """
    peer = request.client.host if request.client else None
    peer_ip = _ip(peer) if peer else None
    if peer_ip is None:
        return peer
    if not _trusted(peer_ip, trusted_proxies):
        return str(peer_ip)
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    address = str(peer_ip)
    for hop in reversed([part for part in forwarded.split(",") if part.strip()]):
        hop_ip = _ip(hop)
        if hop_ip is None:
            break  # not an address: nothing left of it can be believed
        address = str(hop_ip)
        if not _trusted(hop_ip, trusted_proxies):
            break
    return address


def _trusted(
    address: IPv4Address | IPv6Address, networks: Sequence[IPv4Network | IPv6Network]
) -> bool:
    return any(address.version == net.version and address in net for net in networks)


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


class CaseloadGraphQL(GraphQLOverHTTP, GraphQL[Context, None]):
    graphql_transport_ws_handler_class = SessionSocketHandler

    def __init__(
        self,
        services: Services,
        sockets: SocketHub,
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
        self.persisted_queries = persisted_queries
        self.max_document_bytes = settings.max_document_bytes
        self.max_variable_depth = settings.max_variable_depth
        self.origins = OriginPolicy.from_settings(settings)
        self.ide_html = ide_html

    async def render_graphql_ide(self, request: Request) -> Response:  # noqa: ARG002 - strawberry's hook
        return HTMLResponse(self.ide_html or "")

    def is_websocket_origin_allowed(self, request: WebSocket, origin: str) -> bool:  # noqa: ARG002
        return self.origins.allows(origin)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        actor = token = None
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
            token=token if actor else None,
            address=client_address(request, self.services.settings.trusted_proxies),
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
        context.token = token
        await context.socket.start(actor)  # SocketRefused closes it (too many, or just ended)
        return None
