"""The ASGI application factory: GraphQL over HTTP and WebSocket, health and readiness."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from tortoise import Tortoise

from caseload.db import close_db, init_db
from caseload.downloads import issues_csv
from caseload.graphql_view import CaseloadGraphQL
from caseload.http_guards import GraphQLGuard
from caseload.live_sockets import SocketHub
from caseload.origins import ALLOWED_HEADERS, ALLOWED_METHODS
from caseload.persisted_queries import PersistedQueries
from caseload.pubsub import PubSubBroker
from caseload.redis import connect, make_services
from caseload.settings import Settings, get_settings
from schema.root import build_schema
from workers.settings import HEALTH_CHECK_KEY, HEALTH_CHECK_SECONDS

log = logging.getLogger(__name__)

# Room for the multipart envelope around the largest allowed upload.
MULTIPART_OVERHEAD = 64 * 1024
# GraphiQL's page and the React, GraphiQL and explorer builds it loads, shipped in the package.
GRAPHIQL_DIR = Path(__file__).parent / "static" / "graphiql"


class _StartedApp:
    """The GraphQL app, which exists only once the lifespan has connected its services."""

    def __init__(self, state: dict[str, object]) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.state["graphql"](scope, receive, send)  # type: ignore[operator]


class _StartedEndpoint:
    """A request handler made in the lifespan, once services exist."""

    def __init__(self, state: dict[str, object], key: str) -> None:
        self.state, self.key = state, key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self.state[self.key](request)  # type: ignore[operator]
        await response(scope, receive, send)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    if not settings.redis_url:
        raise RuntimeError(
            "CASELOAD_REDIS_URL is not set; `caseload serve` starts an embedded Redis"
        )
    state: dict[str, object] = {}

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await init_db(settings)
        redis = await connect(
            settings.redis_url or "", max_connections=settings.redis_pool_connections
        )
        # The process's one pub/sub connection, shared by every subscription and the
        # revocation listener that closes sockets of ended sessions.
        broker = PubSubBroker(settings.redis_url or "", queue_size=settings.subscriber_queue_size)
        await broker.start()
        sockets = SocketHub(settings, broker)
        await sockets.start()
        services = make_services(settings, redis, broker)
        state["redis"] = redis
        state["issues_csv"] = issues_csv(services)
        persisted = PersistedQueries(
            redis,
            ttl_seconds=settings.persisted_query_ttl_seconds,
            max_entries=settings.persisted_query_max_entries,
        )
        ide = None if settings.production else (GRAPHIQL_DIR / "index.html").read_text("utf-8")
        state["graphql"] = GraphQLGuard(
            CaseloadGraphQL(
                services,
                sockets,
                schema=build_schema(settings),
                persisted_queries=persisted,
                ide_html=ide,
            ),
            max_body_bytes=settings.max_request_bytes,
            max_upload_body_bytes=settings.max_upload_bytes + MULTIPART_OVERHEAD,
        )
        try:
            yield
        finally:
            await sockets.stop()
            await broker.stop()
            await redis.aclose()
            await close_db()

    graphql = _StartedApp(state)

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> JSONResponse:
        checks = {"database": False, "redis": False, "worker": False}
        reasons: list[str] = []
        try:
            await Tortoise.get_connection("default").execute_query("SELECT 1")
            checks["database"] = True
        except Exception:  # noqa: BLE001 - any failure means not ready
            log.warning("readiness: database unreachable")
            reasons.append("the database is unreachable")
        try:
            redis = state["redis"]
            assert isinstance(redis, Redis), "the lifespan stores the Redis client"
            await redis.ping()
            checks["redis"] = True
            # Every live worker rewrites arq's health-check key; it expires soon after the last.
            checks["worker"] = bool(await redis.exists(HEALTH_CHECK_KEY))
            if not checks["worker"]:
                reasons.append(
                    f"no worker has reported in the last {HEALTH_CHECK_SECONDS + 1} s "
                    "(imports and e-mail are not running)"
                )
        except (RedisError, OSError):
            log.warning("readiness: redis unreachable")
            reasons.append("Redis is unreachable")
        ready = all(checks.values())
        body: dict[str, object] = {"ready": ready, **checks}
        if reasons:
            body["reason"] = "; ".join(reasons)
        return JSONResponse(body, status_code=200 if ready else 503)

    routes: list[BaseRoute] = [
        Route("/graphql", graphql),  # every method: the view answers others with a coded 405
        WebSocketRoute("/graphql", graphql),
        Route("/imports/{import_id}/issues.csv", _StartedEndpoint(state, "issues_csv")),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
    ]
    if not settings.production:
        routes.append(Mount("/graphiql", app=StaticFiles(directory=GRAPHIQL_DIR)))
    cors = Middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins,
        allow_origin_regex=settings.origin_regex,
        allow_methods=ALLOWED_METHODS,
        allow_headers=ALLOWED_HEADERS,
        allow_credentials=False,  # the token travels in a header, never in a cookie
        max_age=600,
    )
    return Starlette(routes=routes, middleware=[cors], lifespan=lifespan)
