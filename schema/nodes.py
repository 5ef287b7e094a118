"""The Node interface, PageInfo, and the words and arguments shared by every connection."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, Protocol, TypeVar

import strawberry

from resolvers.pages import Page

# Descriptions of the parts every connection and edge has.
EDGES = "This page's items, each with its cursor, in the list's order."
PAGE_INFO = "Where this page sits in the list, and the cursors to ask for the next one."
CURSOR = "Where this item sits in the list; pass it as `after` for the items after it."
NODE = "The item."

# `first` and `after`, as every list takes them (`first` is clamped to 0..100).
FIRST = "How many items to return: at most 100 (a larger number is read as 100)."
AFTER = "The `endCursor` of the page before; leave it out for the first page."
First = Annotated[int | None, strawberry.argument(description=FIRST)]
RequiredFirst = Annotated[int, strawberry.argument(description=FIRST)]
After = Annotated[str | None, strawberry.argument(description=AFTER)]


@strawberry.interface(description="A record with an id of its own.")
class Node:
    id: strawberry.ID = strawberry.field(
        description="The record's id: opaque, stable, to be passed back as it is."
    )


class _Edge(Protocol):
    cursor: str


@strawberry.type(description="Where a page sits in its list (Relay's PageInfo).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    end_cursor: str | None = strawberry.field(
        default=None, description="The cursor of the last edge; pass it as `after` for more."
    )
    has_previous_page: bool = strawberry.field(
        default=False,
        description="Items come before this page: true when it was asked for with `after`.",
    )
    start_cursor: str | None = strawberry.field(
        default=None, description="The cursor of the first edge; null for an empty page."
    )

    @classmethod
    def of(cls, edges: Sequence[_Edge], has_next_page: bool, after: str | None) -> PageInfo:
        return cls(
            has_next_page=has_next_page,
            end_cursor=edges[-1].cursor if edges else None,
            has_previous_page=bool(after),
            start_cursor=edges[0].cursor if edges else None,
        )


async def _nothing() -> int:
    return 0


@strawberry.type
class Counted:
    """A connection's totalCount, counted by one query only when a client selects it."""

    count: strawberry.Private[Callable[[], Awaitable[int]]] = _nothing

    @strawberry.field(
        description="How many items the whole list holds, across every page; counted only when "
        "selected."
    )
    async def total_count(self) -> int:
        return await self.count()


C = TypeVar("C", bound=Counted)
V = TypeVar("V")


def connection(
    make: Callable[..., C],
    edge: Callable[..., Any],
    page: Page[V],
    node: Callable[[V], Any],
    after: str | None,
) -> C:
    """The one connection builder: `page`'s items as `edge(cursor, node(item))`, its PageInfo,
    and its count, run only if `totalCount` is selected."""
    edges = [edge(cursor=cursor, node=node(item)) for cursor, item in page.items]
    return make(
        edges=edges, page_info=PageInfo.of(edges, page.has_next_page, after), count=page.count
    )
