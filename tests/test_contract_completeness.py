"""Every type, field, argument, enum value, union member and interface of the contract exists here."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
    is_required_argument,
    is_required_input_field,
)

from tests.support import CONTRACT, argument_default, our_schema

FieldsType = GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType


def _missing_or_different(  # noqa: C901 - one walk over every kind of schema member
    ours: GraphQLSchema, contract: GraphQLSchema
) -> list[str]:
    problems: list[str] = []
    for name, theirs in contract.type_map.items():
        if name.startswith("__"):
            continue
        mine = ours.type_map.get(name)
        if mine is None:
            problems.append(f"type {name} missing")
            continue
        if type(mine) is not type(theirs):
            problems.append(f"{name}: {type(mine).__name__} here, {type(theirs).__name__}")
            continue
        if isinstance(theirs, FieldsType) and isinstance(mine, FieldsType):
            for field_name, field in theirs.fields.items():
                my_field = mine.fields.get(field_name)
                if my_field is None:
                    problems.append(f"{name}.{field_name} missing")
                    continue
                if str(my_field.type) != str(field.type):
                    problems.append(f"{name}.{field_name}: {my_field.type} != {field.type}")
                their_args = getattr(field, "args", {})
                my_args = getattr(my_field, "args", {})
                for arg_name, arg in their_args.items():
                    my_arg = my_args.get(arg_name)
                    if my_arg is None:
                        problems.append(f"{name}.{field_name}({arg_name}) missing")
                    elif str(my_arg.type) != str(arg.type):
                        problems.append(f"{name}.{field_name}({arg_name}): type differs")
                    elif argument_default(my_arg) != argument_default(arg):
                        problems.append(f"{name}.{field_name}({arg_name}): default differs")
                # an extra required argument would break the contract's callers
                for arg_name, my_arg in my_args.items():
                    if arg_name not in their_args and is_required_argument(my_arg):
                        problems.append(
                            f"{name}.{field_name}({arg_name}) required, not in contract"
                        )
        if isinstance(theirs, GraphQLInputObjectType) and isinstance(mine, GraphQLInputObjectType):
            for field_name, my_input in mine.fields.items():
                if field_name not in theirs.fields and is_required_input_field(my_input):
                    problems.append(f"{name}.{field_name} required, not in contract")
        if isinstance(theirs, GraphQLObjectType | GraphQLInterfaceType) and isinstance(
            mine, GraphQLObjectType | GraphQLInterfaceType
        ):
            lacking = {i.name for i in theirs.interfaces} - {i.name for i in mine.interfaces}
            if lacking:
                problems.append(f"{name} does not implement {sorted(lacking)}")
        if isinstance(theirs, GraphQLEnumType) and isinstance(mine, GraphQLEnumType):
            lacking = set(theirs.values) - set(mine.values)
            if lacking:
                problems.append(f"enum {name} lacks {sorted(lacking)}")
        if isinstance(theirs, GraphQLUnionType) and isinstance(mine, GraphQLUnionType):
            lacking = {t.name for t in theirs.types} - {t.name for t in mine.types}
            if lacking:
                problems.append(f"union {name} lacks {sorted(lacking)}")
    for root in ("query", "mutation", "subscription"):
        theirs_root = getattr(contract, f"{root}_type")
        mine_root = getattr(ours, f"{root}_type")
        if theirs_root is not None and (mine_root is None or mine_root.name != theirs_root.name):
            problems.append(f"{root} root is not {theirs_root.name}")
    return problems


def test_everything_in_the_contract_exists_with_its_shape() -> None:
    assert _missing_or_different(our_schema(), build_schema(CONTRACT.read_text())) == []


def test_the_check_notices_what_is_missing() -> None:
    text = CONTRACT.read_text()
    extra = (
        text
        + "\ntype Invented { x: Int }\nenum Mood { CALM }\n"
        + "extend type Query { invented(id: ID!): Invented }\n"
        + "extend enum ErrorCode { INVENTED_CODE }\n"
        + "extend type PageInfo { invented: Int }\n"
        + "extend union ClientResult = ClientImport\n"
    )
    problems = _missing_or_different(our_schema(), build_schema(extra))
    assert sorted(problems) == sorted(
        [
            "type Invented missing",
            "type Mood missing",
            "Query.invented missing",
            "enum ErrorCode lacks ['INVENTED_CODE']",
            "PageInfo.invented missing",
            "union ClientResult lacks ['ClientImport']",
        ]
    )
