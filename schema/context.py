"""The per-request context: services, the actor, the client address and request loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info as StrawberryInfo

from resolvers.actor import Actor
from resolvers.ports import LiveSocket, Services
from schema.loaders import Loaders


@dataclass
class Context:
    services: Services
    actor: Actor | None
    address: str | None
    token: str | None = None  # the caller's bearer token (changePassword answers with it)
    request: Any = None
    response: Any = None
    connection_params: dict[str, Any] = field(default_factory=dict)
    # set on WebSockets only: the socket the operation runs on
    socket: LiveSocket | None = None
    loaders: Loaders = field(default_factory=Loaders)


Info = StrawberryInfo[Context, None]
