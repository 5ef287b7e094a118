"""The committed schema.graphql matches the code, and agrees with the public contract."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
)

from caseload.settings import Settings
from schema.root import build_schema as build_caseload_schema
from tests.support import CONTRACT, REPO, argument_default, contract_schema, our_schema


def _shape_differences(  # noqa: C901 - one walk over every kind of schema member
    ours: GraphQLSchema, contract: GraphQLSchema
) -> list[str]:
    problems: list[str] = []
    for name, theirs in contract.type_map.items():
        if name.startswith("__") or name not in ours.type_map:
            continue
        mine = ours.type_map[name]
        if type(mine) is not type(theirs):
            problems.append(
                f"{name}: {type(mine).__name__} here, {type(theirs).__name__} in contract"
            )
            continue
        if isinstance(theirs, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in theirs.fields.items():
                if field_name not in mine.fields:  # type: ignore[union-attr]
                    continue
                my_field = mine.fields[field_name]  # type: ignore[union-attr]
                if str(my_field.type) != str(field.type):
                    problems.append(f"{name}.{field_name}: {my_field.type} != {field.type}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    my_arg = my_field.args.get(arg_name)
                    if my_arg is None:
                        problems.append(f"{name}.{field_name}({arg_name}) missing")
                    elif str(my_arg.type) != str(arg.type) or argument_default(
                        my_arg
                    ) != argument_default(arg):
                        problems.append(f"{name}.{field_name}({arg_name}) differs")
            if isinstance(theirs, GraphQLObjectType) and isinstance(mine, GraphQLObjectType):
                wanted = {i.name for i in theirs.interfaces}
                have = {i.name for i in mine.interfaces}
                if not wanted <= have:
                    problems.append(f"{name} implements {sorted(have)}, contract {sorted(wanted)}")
        elif isinstance(theirs, GraphQLEnumType) and isinstance(mine, GraphQLEnumType):
            if not set(theirs.values) <= set(mine.values):
                problems.append(f"enum {name} lacks {set(theirs.values) - set(mine.values)}")
        elif isinstance(theirs, GraphQLUnionType) and isinstance(mine, GraphQLUnionType):
            if {t.name for t in theirs.types} - {t.name for t in mine.types}:
                problems.append(f"union {name} lacks members")
    return problems


def test_committed_schema_file_matches_the_code() -> None:
    generated = build_caseload_schema(Settings()).as_str().strip()
    committed = (REPO / "schema.graphql").read_text().strip()
    assert committed == generated, "schema.graphql is stale: run `make schema` and commit it"


def test_types_shared_with_the_contract_have_its_shape() -> None:
    assert _shape_differences(our_schema(), contract_schema()) == []


def test_the_shape_check_notices_a_difference() -> None:
    changed = CONTRACT.read_text().replace(
        "type PageInfo { hasNextPage: Boolean!", "type PageInfo { hasNextPage: Int!"
    )
    problems = _shape_differences(our_schema(), build_schema(changed))
    assert problems == ["PageInfo.hasNextPage: Boolean! != Int!"]
