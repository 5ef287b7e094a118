"""One page type for every keyset-paginated list, and the one page-size rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from resolvers.cursors import LazyCount, nothing_to_count

MAX_PAGE = 100

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[tuple[str, T]]  # (cursor, item)
    has_next_page: bool
    count: LazyCount = nothing_to_count  # the whole list's size, counted only if asked


def page_size(first: int) -> int:
    """How many items a page holds: what was asked, between 0 and MAX_PAGE."""
    return max(0, min(first, MAX_PAGE))
