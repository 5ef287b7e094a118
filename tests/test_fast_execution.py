"""The planned executor answers exactly as graphql-core: the same bytes for every document.

A small schema with every shape the plan covers or hands back (plain leaves, lists, objects,
nulls where the type forbids them, exceptions as values, failed coercions, resolvers that
raise, async resolvers, fragments, aliases, directives, variables) runs through both
executors, for fixed documents and for documents and data that Hypothesis draws; the real
schema's list queries run through both too (tests/test_fast_execution_pages.py).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from enum import Enum
from typing import Any, cast

import orjson
import strawberry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strawberry.types import ExecutionResult

from schema.fast_execution import PlannedExecutor


@strawberry.enum
class Color(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Leafy:
    name: str
    maybe: str | None
    count: int
    tags: list[str]
    maybe_tags: list[str | None] | None
    when: datetime | None
    color: Color


@strawberry.interface
class Named:
    label: str


@strawberry.type
class Item(Named):
    id: strawberry.ID
    leaf: Leafy
    maybe_leaf: Leafy | None
    leaves: list[Leafy]
    maybe_leaves: list[Leafy | None] | None
    lateness: float = 0.0

    @strawberry.field
    def computed(self, suffix: str = "!") -> str:
        return self.label + suffix

    @strawberry.field
    async def later(self) -> Leafy | None:
        await asyncio.sleep(self.lateness)
        return self.maybe_leaf

    @strawberry.field
    async def later_required(self) -> Leafy:
        await asyncio.sleep(self.lateness)
        return self.maybe_leaf  # type: ignore[return-value] # None on purpose: a null error

    @strawberry.field
    def boom(self) -> str | None:
        raise ValueError("boom at " + self.label)

    @strawberry.field
    def named(self) -> Named:
        return self

    @strawberry.field
    def via_info(self, info: strawberry.Info) -> str:
        return f"{info.field_name} at {info.path.as_list()}"

    @strawberry.field
    @staticmethod
    def via_root(root: Item) -> Leafy | None:
        return root.maybe_leaf

    @strawberry.field
    def coroutine(self) -> Leafy:
        return cast("Leafy", self._later())  # a sync resolver handing back an awaitable

    async def _later(self) -> Leafy | None:
        await asyncio.sleep(0)
        return self.maybe_leaf


@strawberry.type
class Page:
    items: list[Item]
    maybe_items: list[Item | None] | None
    first: Item | None


DATA: dict[str, Any] = {}


@strawberry.type
class Query:
    @strawberry.field
    def page(self) -> Page:
        return DATA["page"]

    @strawberry.field
    def required_page(self) -> Page:
        return DATA["page"]

    @strawberry.field
    async def async_page(self) -> Page | None:
        await asyncio.sleep(0)
        return DATA["page"]


CORE = strawberry.Schema(query=Query, types=[Item])
PLANNED = strawberry.Schema(query=Query, types=[Item], execution_context_class=PlannedExecutor)
WHEN = datetime(2026, 12, 2, 6, 30, tzinfo=UTC)


def leafy(called: str = "a", **fields: Any) -> Leafy:
    values: dict[str, Any] = {
        "name": called,
        "maybe": None,
        "count": 3,
        "tags": ["x", "y"],
        "maybe_tags": ["z", None],
        "when": WHEN,
        "color": Color.RED,
    }
    values.update(fields)
    return Leafy(**values)


def item(label: str = "one", **fields: Any) -> Item:
    values: dict[str, Any] = {
        "id": strawberry.ID(f"id-{label}"),
        "label": label,
        "leaf": leafy(label),
        "maybe_leaf": None,
        "leaves": [leafy("l1"), leafy("l2", maybe="m")],
        "maybe_leaves": [None, leafy("l3")],
    }
    values.update(fields)
    return Item(**values)


def answer(result: ExecutionResult) -> bytes:
    """What the HTTP view sends: data, then formatted errors, then extensions."""
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        body["extensions"] = result.extensions
    return orjson.dumps(body)


async def both(document: str, variables: dict[str, Any] | None = None) -> tuple[bytes, bytes]:
    core = await CORE.execute(document, variable_values=variables)
    planned = await PLANNED.execute(document, variable_values=variables)
    return answer(core), answer(planned)


LEAF_FIELDS = "name maybe count tags maybeTags when color __typename"
ITEM_FIELDS = (
    f"id label leaf {{ {LEAF_FIELDS} }} maybeLeaf {{ name }} leaves {{ {LEAF_FIELDS} }} "
    "maybeLeaves { name count }"
)
DOCUMENTS = [
    f"{{ page {{ items {{ {ITEM_FIELDS} }} }} }}",
    f"{{ requiredPage {{ items {{ {ITEM_FIELDS} }} maybeItems {{ id }} first {{ id }} }} }}",
    f"{{ asyncPage {{ items {{ {ITEM_FIELDS} later {{ name }} }} }} }}",
    '{ page { items { boom id computed computed2: computed(suffix: "?") viaInfo } } }',
    "{ page { items { viaRoot { name } coroutine { name count } x: viaInfo } first { viaRoot { name } } } }",
    "{ page { items { laterRequired { name } id } first { laterRequired { count } } } }",
    "{ a: page { x: items { y: id z: leaf { w: name } } } b: page { items { label } } }",
    "query { page { items { ...F leaf { ...L } } } } fragment F on Item { id label } "
    "fragment L on Leafy { name count }",
    "{ page { items { ... on Item { id } ... on Named { label } named { label __typename "
    "... on Item { id } } } } }",
    "query($yes: Boolean!) { page { items { id @include(if: $yes) label @skip(if: $yes) "
    "leaf @include(if: $yes) { name } } } }",
    "{ page { items { id id leaf { name } leaf { count } } } }",
    "{ page { maybeItems { id leaf { name } maybeLeaf { name } } } }",
    "{ __typename page { __typename items { __typename } } }",
]


def page(*items: Item | None, first: Item | None = None) -> Page:
    listed = [i for i in items if i is not None]
    return Page(items=listed, maybe_items=list(items), first=first)


ODD_PAGES = [
    page(item("one"), item("two", maybe_leaf=leafy("m")), first=item("f")),
    # nulls where the type forbids them, at every depth
    page(item("n1", leaf=None), item("n2"), item("n3", leaves=[leafy(), None])),
    page(item("n4", leaf=leafy(name=None)), item("n5", leaves=None)),
    # exceptions as values, values that do not coerce, a list that is not one
    page(item("e1", leaf=leafy(count=ValueError("count"))), item("e2", leaf=leafy(count="x"))),
    page(item("e3", leaf=leafy(tags="not a list")), item("e4", leaf=leafy(tags=[1, None]))),
    page(item("e5", leaf=leafy(color="green")), item("e6", leaf=leafy(when="yesterday"))),
    page(item("e7", leaf=object())),
    page(item("e8", maybe_leaves=(leafy("tuple"),)), item("e9", maybe_leaves=[ValueError("x")])),
    page(None, item("e10"), first=item("e11", lateness=0.001)),
]


async def test_fixed_documents_answer_the_same_bytes() -> None:
    compared = 0
    for data in ODD_PAGES:
        DATA["page"] = data
        for document in DOCUMENTS:
            for variables in ({"yes": True}, {"yes": False}):
                core, planned = await both(document, variables)
                assert planned == core, (document, data)
                compared += 1
    assert compared == len(ODD_PAGES) * len(DOCUMENTS) * 2
    # the odd pages did produce errors, nulled parents and partial data
    DATA["page"] = ODD_PAGES[1]
    core, _ = await both(DOCUMENTS[1])
    assert b'"errors"' in core and b"Cannot return null for non-nullable field" in core


def test_the_plan_is_used() -> None:
    """The comparison would be empty if the planned schema fell back everywhere."""
    DATA["page"] = ODD_PAGES[0]
    calls = 0
    original = PlannedExecutor.execute_field

    def counting(self: PlannedExecutor, *args: Any) -> Any:
        nonlocal calls
        calls += 1
        return original(self, *args)

    PlannedExecutor.execute_field = counting  # type: ignore[method-assign,assignment] # counted, then put back
    try:
        result = PLANNED.execute_sync(f"{{ page {{ items {{ {ITEM_FIELDS} }} }} }}")
    finally:
        PlannedExecutor.execute_field = original  # type: ignore[method-assign]
    assert result.errors is None
    assert calls == 0  # every field ran by the plan, the resolvers without arguments too


LEAF_NAMES = ["name", "maybe", "count", "tags", "maybeTags", "when", "color", "__typename"]
ITEM_LEAVES = ["id", "label", "computed", "boom", "viaInfo", "__typename"]
ITEM_OBJECTS = [
    "leaf",
    "maybeLeaf",
    "leaves",
    "maybeLeaves",
    "later",
    "laterRequired",
    "viaRoot",
    "coroutine",
]
NAMES = st.sampled_from(["a", "b", "c"])


@st.composite
def selection(draw: st.DrawFn, fields: list[str], sub: st.SearchStrategy[str] | None) -> str:
    chosen = draw(st.lists(st.sampled_from(fields), min_size=1, max_size=5))
    parts = []
    for name in chosen:
        alias = f"{draw(NAMES)}_{name.strip('_')}: " if draw(st.booleans()) else ""
        body = f" {{ {draw(sub)} }}" if sub is not None and name in ITEM_OBJECTS else ""
        parts.append(f"{alias}{name}{body}")
    if draw(st.booleans()):
        parts.append(f"... {{ {parts[0]} }}")
    return " ".join(parts)


LEAF_SELECTION = selection(LEAF_NAMES, None)
ITEM_SELECTION = selection(ITEM_LEAVES + ITEM_OBJECTS, LEAF_SELECTION)
ODD_VALUES = st.sampled_from([None, ValueError("odd"), "text", 7, ["x", None], object()])


@st.composite
def drawn_leafy(draw: st.DrawFn) -> Leafy:
    fields = {}
    for name in ("name", "maybe", "count", "tags", "maybe_tags", "when", "color"):
        if draw(st.integers(0, 5)) == 0:
            fields[name] = draw(ODD_VALUES)
    return leafy(draw(NAMES), **fields)


@st.composite
def drawn_item(draw: st.DrawFn) -> Item:
    leaves = st.one_of(drawn_leafy(), st.none(), ODD_VALUES)
    return item(
        draw(NAMES),
        leaf=draw(st.one_of(drawn_leafy(), drawn_leafy(), leaves)),
        maybe_leaf=draw(leaves),
        leaves=draw(st.one_of(st.lists(drawn_leafy(), max_size=3), st.lists(leaves, max_size=3))),
        maybe_leaves=draw(st.one_of(st.none(), st.lists(leaves, max_size=3))),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=st.lists(st.one_of(drawn_item(), st.none()), max_size=4),
    root=st.sampled_from(["page", "requiredPage", "asyncPage"]),
    listed=st.sampled_from(["items", "maybeItems"]),
    inner=ITEM_SELECTION,
)
def test_drawn_documents_and_data_answer_the_same_bytes(
    items: list[Item | None], root: str, listed: str, inner: str
) -> None:
    DATA["page"] = page(*items, first=next((i for i in items if i), None))
    document = f"{{ {root} {{ {listed} {{ {inner} }} first {{ {inner} }} }} }}"
    core, planned = asyncio.run(both(document))
    assert planned == core, document
