"""The Node interface and PageInfo shared by every connection."""

from __future__ import annotations

import strawberry


@strawberry.interface
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None
