"""ASGI guard in front of /graphql: body size caps (413) and the multipart preflight header."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from caseload.graphql_http import (
    BAD_REQUEST,
    GRAPHQL_RESPONSE_JSON,
    error_body,
    prefers_graphql_response_json,
)

PREFLIGHT_HEADERS = (b"apollo-require-preflight", b"x-apollo-operation-name")


class BodyTooLarge(Exception):
    pass


async def _reply(send: Send, status: int, message: str, accept: bytes) -> None:
    body = error_body(message, BAD_REQUEST)
    graphql_json = prefers_graphql_response_json(accept.decode("latin-1"))
    media = GRAPHQL_RESPONSE_JSON if graphql_json else "application/json"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", media.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class GraphQLGuard:
    """JSON bodies get a small cap (a document and its variables); uploads the upload cap."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_body_bytes: int) -> None:
        self.app = app
        self.max_json_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        accept = headers.get(b"accept", b"")
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        upload = content_type.startswith("multipart/")
        if upload and not any(h in headers for h in PREFLIGHT_HEADERS):
            await _reply(
                send,
                400,
                "Uploads must carry the 'apollo-require-preflight' header (CSRF protection).",
                accept,
            )
            return
        cap = self.max_upload_bytes if upload else self.max_json_bytes
        declared = headers.get(b"content-length")
        too_large = f"The request body is larger than {cap} bytes."
        if declared is not None and declared.isdigit() and int(declared) > cap:
            await _reply(send, 413, too_large, accept)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise BodyTooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if not started:
                await _reply(send, 413, too_large, accept)
