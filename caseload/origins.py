"""Which web origins may call the API: one policy for CORS and for WebSocket handshakes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from strawberry.http.websocket_origin import normalize_origin

from caseload.settings import Settings

# What a browser may send cross-origin: the bearer token, JSON, Apollo's CSRF-preflight header.
ALLOWED_HEADERS = (
    "authorization",
    "content-type",
    "accept",
    "apollo-require-preflight",
    "x-apollo-operation-name",
)
ALLOWED_METHODS = ("GET", "POST")


@dataclass(frozen=True)
class OriginPolicy:
    origins: frozenset[str]
    pattern: str | None

    @classmethod
    def from_settings(cls, settings: Settings) -> OriginPolicy:
        origins = {normalize_origin(o) or o for o in settings.allowed_origins}
        return cls(origins=frozenset(origins), pattern=settings.origin_regex)

    def allows(self, origin: str) -> bool:
        if "*" in self.origins:
            return True
        normalized = normalize_origin(origin)
        if normalized is None:
            return False
        if normalized in self.origins:
            return True
        return self.pattern is not None and re.fullmatch(self.pattern, normalized) is not None
