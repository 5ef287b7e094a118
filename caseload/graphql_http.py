"""GraphQL over HTTP as standard clients expect it: coded JSON refusals, APQ, GET, media types.

Every refusal is a GraphQL JSON body with `errors[].extensions.code` (Apollo Server's names).
The body is decoded strictly and bounded before anything is parsed; a document comes either in
the request or, by Apollo's automatic persisted queries, from Redis by its SHA-256.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException, StarletteRequestAdapter
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from caseload.persisted_queries import PersistedQueries, may_persist, sha256_hex, valid_hash

BAD_REQUEST = "BAD_REQUEST"
UNAUTHENTICATED = "UNAUTHENTICATED"
PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
# Errors that mean the request was never executed (the spec's "request errors").
REQUEST_ERROR_CODES = {"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"}


class RequestError(Exception):
    """A refusal before execution, answered as a GraphQL error body."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str = BAD_REQUEST,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.headers = dict(headers or {})


def _media_quality(accept: str) -> dict[str, float]:
    quality: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media:
            quality[media.lower()] = max(q, quality.get(media.lower(), 0.0))
    return quality


def prefers_graphql_response_json(accept: str | None) -> bool:
    """True when the client accepts application/graphql-response+json at least as well as JSON."""
    quality = _media_quality(accept or "")
    wanted = quality.get(GRAPHQL_RESPONSE_JSON, 0.0)
    return wanted > 0 and wanted >= quality.get("application/json", 0.0)


def error_body(message: str, code: str) -> bytes:
    return json.dumps(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, separators=(",", ":")
    ).encode()


def error_response(
    status: int,
    message: str,
    code: str,
    *,
    accept: str | None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    media = GRAPHQL_RESPONSE_JSON if prefers_graphql_response_json(accept) else "application/json"
    return Response(
        error_body(message, code), status_code=status, media_type=media, headers=headers
    )


def _depth_exceeds(value: object, limit: int) -> bool:
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


def decode_json(body: bytes | str, what: str = "The request body") -> object:
    """JSON from bytes that must be UTF-8; a 400 RequestError for anything else."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError:
        raise RequestError(400, f"{what} is not valid UTF-8.") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise RequestError(400, f"{what} is JSON nested too deeply.") from None
    except ValueError:
        raise RequestError(400, f"{what} is not valid JSON.") from None


class CaseloadRequestAdapter(StarletteRequestAdapter):
    """Strawberry's request adapter, exposing the Starlette request for per-request state."""

    @property
    def request(self) -> Request:
        return self._request


class GraphQLSubResponse(Response):
    """The sub-response strawberry fills in, knowing which media type the client prefers."""

    graphql_response_json: bool = False


class GraphQLOverHTTP:
    """Mixin for strawberry's ASGI view; needs `persisted_queries` and the limits set."""

    persisted_queries: PersistedQueries | None
    max_document_bytes: int
    max_variable_depth: int
    request_adapter_class = CaseloadRequestAdapter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)  # type: ignore[misc]
            return
        request = Request(scope=scope, receive=receive)
        accept = request.headers.get("accept")
        try:
            response = await self.run(request)  # type: ignore[attr-defined]
        except RequestError as refused:
            response = error_response(
                refused.status,
                refused.message,
                refused.code,
                accept=accept,
                headers=refused.headers,
            )
        except HTTPException as refused:  # strawberry's own refusals, plain text by default
            allow = {"allow": "GET, POST"} if refused.status_code == 405 else None
            response = error_response(
                refused.status_code, refused.reason, BAD_REQUEST, accept=accept, headers=allow
            )
        await response(scope, receive, send)

    def encode_json(self, data: object) -> str:
        # text, not bytes: strawberry sends bytes over WebSocket as binary frames
        return orjson.dumps(data).decode()

    def should_render_graphql_ide(self, request: Any) -> bool:
        params = request.query_params
        return (
            request.method == "GET"
            and params.get("query") is None
            and params.get("extensions") is None
            and "text/html" in request.headers.get("accept", "")
        )

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = GraphQLSubResponse()
        sub_response.status_code = None  # type: ignore[assignment]
        del sub_response.headers["content-length"]
        sub_response.graphql_response_json = prefers_graphql_response_json(
            request.headers.get("accept")
        )
        return sub_response

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response: Response = super().create_response(response_data, sub_response)  # type: ignore[misc]
        if getattr(sub_response, "graphql_response_json", False):
            response.headers["content-type"] = GRAPHQL_RESPONSE_JSON
            codes = {
                (error.get("extensions") or {}).get("code")
                for error in response_data.get("errors") or ()
            }
            if response_data.get("data") is None and codes & REQUEST_ERROR_CODES:
                # a request error: no execution happened, so no `data` entry and a 4xx
                response_data.pop("data", None)
                response.body = self.encode_json(response_data).encode()
                response.headers["content-length"] = str(len(response.body))
                response.status_code = 400
        return response

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        content_type, _ = parse_content_type(request.content_type or "")
        if request.method == "GET":
            data: object = self._query_params(request.query_params)
        elif content_type == "application/json":
            data = decode_json(await request.get_body())
        elif content_type == "multipart/form-data":
            data = await self.parse_multipart(request)  # type: ignore[attr-defined]
        else:
            raise RequestError(
                415, "Send GraphQL requests as application/json (or multipart/form-data uploads)."
            )
        if isinstance(data, list):
            raise RequestError(400, "Batching is not supported: send one operation per request.")
        if not isinstance(data, dict):
            raise RequestError(400, "The request body must be a JSON object.")
        query, variables = data.get("query"), data.get("variables")
        extensions, operation_name = data.get("extensions"), data.get("operationName")
        if not isinstance(query, str | None):
            raise RequestError(400, "`query` must be a string.")
        if not isinstance(variables, dict | None):
            raise RequestError(400, "`variables` must be an object.")
        if not isinstance(extensions, dict | None):
            raise RequestError(400, "`extensions` must be an object.")
        if not isinstance(operation_name, str | None):
            raise RequestError(400, "`operationName` must be a string.")
        if variables is not None and _depth_exceeds(variables, self.max_variable_depth):
            raise RequestError(
                400, f"`variables` are nested deeper than {self.max_variable_depth} levels."
            )
        assert isinstance(request, CaseloadRequestAdapter)
        query = await self._persisted_query(request.request, query, extensions)
        if query is not None and len(query.encode("utf-8", "surrogatepass")) > (
            self.max_document_bytes
        ):
            raise RequestError(
                413, f"The GraphQL document is larger than {self.max_document_bytes} bytes."
            )
        return GraphQLRequestData(
            query=query,
            variables=variables,
            operation_name=operation_name,
            extensions=extensions,
            protocol="http",
        )

    def _query_params(self, params: Mapping[str, Any]) -> dict[str, object]:
        data: dict[str, object] = dict(params)
        for name in ("variables", "extensions"):
            if data.get(name):
                data[name] = decode_json(str(data[name]), f"The `{name}` parameter")
            else:
                data.pop(name, None)
        return data

    async def _persisted_query(
        self, request: Request, query: str | None, extensions: dict[str, Any] | None
    ) -> str | None:
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None or self.persisted_queries is None:
            return query
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            raise RequestError(400, "Unsupported persisted query version; send version 1.")
        sha256 = persisted.get("sha256Hash")
        if not valid_hash(sha256):
            raise RequestError(400, "`sha256Hash` must be 64 lower-case hexadecimal digits.")
        assert isinstance(sha256, str)
        if query is None:
            stored = await self.persisted_queries.get(sha256)
            if stored is None:
                # Apollo's link then resends the request with the document (HTTP 200, as
                # Apollo Server answers)
                raise RequestError(200, "PersistedQueryNotFound", PERSISTED_QUERY_NOT_FOUND)
            return stored
        if sha256_hex(query) != sha256:
            raise RequestError(400, "provided sha does not match query")
        request.state.register_persisted_query = sha256
        return query

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,  # noqa: ARG002 - strawberry's execute_single signature, passed by keyword
        context: Any,
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        method = request_adapter.method
        try:
            result: ExecutionResult = await self.schema.execute(  # type: ignore[attr-defined]
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=OperationType.from_http(method),
                operation_extensions=request_data.extensions,
            )
        except InvalidOperationTypeError:
            raise RequestError(
                405,
                "Only queries can be sent with GET; send mutations with POST.",
                headers={"allow": "POST"},
            ) from None
        except CannotGetOperationTypeError as error:
            raise RequestError(400, error.as_http_error_reason()) from None
        except MissingQueryError:
            raise RequestError(400, "No GraphQL query found in the request.") from None
        await self._register(request, request_data.query, result)
        return result

    async def _register(self, request: Request, query: str | None, result: ExecutionResult) -> None:
        """Stores a document sent with its hash once it parsed and validated, as Apollo does."""
        sha256 = getattr(request.state, "register_persisted_query", None)
        if sha256 is None or query is None or self.persisted_queries is None:
            return
        codes = {(e.extensions or {}).get("code") for e in result.errors or ()}
        if codes & REQUEST_ERROR_CODES or not may_persist(query):
            return
        await self.persisted_queries.put(sha256, query)
