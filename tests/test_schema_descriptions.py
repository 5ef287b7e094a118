"""Every type, field, argument, input field and enum value of the schema has a description."""

from __future__ import annotations

from enum import Enum

import pytest
import strawberry
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    specified_scalar_types,
)

from caseload.settings import Settings
from schema.enum_docs import describe_enum
from schema.root import build_schema as build_caseload_schema


def _blank(description: str | None) -> bool:
    return not (description and description.strip())


def _undocumented_in(type_: GraphQLNamedType) -> list[str]:
    name = type_.name
    missing = [name] if _blank(type_.description) else []
    if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
        for field_name, field in type_.fields.items():
            if _blank(field.description):
                missing.append(f"{name}.{field_name}")
            missing += [
                f"{name}.{field_name}({arg_name})"
                for arg_name, arg in field.args.items()
                if _blank(arg.description)
            ]
    elif isinstance(type_, GraphQLInputObjectType):
        missing += [
            f"{name}.{field_name}"
            for field_name, field in type_.fields.items()
            if _blank(field.description)
        ]
    elif isinstance(type_, GraphQLEnumType):
        missing += [
            f"{name}.{value_name}"
            for value_name, value in type_.values.items()
            if _blank(value.description)
        ]
    return missing


def undocumented(schema: GraphQLSchema) -> list[str]:
    """Everything without a description, built-in introspection types and standard scalars aside."""
    missing: list[str] = []
    for name, type_ in sorted(schema.type_map.items()):
        if name.startswith("__") or name in specified_scalar_types:
            continue
        missing += _undocumented_in(type_)
    return missing


def test_every_part_of_the_schema_has_a_description() -> None:
    schema = build_caseload_schema(Settings())._schema
    assert undocumented(schema) == []


def test_deprecated_fields_keep_the_contracts_reasons() -> None:
    schema = build_caseload_schema(Settings())._schema
    deprecated = {
        f"{name}.{field_name}": field.deprecation_reason
        for name, type_ in schema.type_map.items()
        if isinstance(type_, GraphQLObjectType) and not name.startswith("__")
        for field_name, field in type_.fields.items()
        if field.deprecation_reason is not None
    }
    never = "whether an address has an account is never revealed."
    assert deprecated == {
        "AddClientSuccess.linkedExistingAccount": f"Always false: {never}",
        "ClientImport.linkedCount": f"Always 0: {never}",
        "MessageSuccess.message": "Use sentMessage: `message` clashes with "
        "MutationError.message in one selection set.",
    }


def test_an_enum_description_map_must_name_every_value_and_no_other() -> None:
    @strawberry.enum
    class Shade(Enum):
        LIGHT = "LIGHT"
        DARK = "DARK"

    with pytest.raises(ValueError, match=r"none for \['DARK'\]"):
        describe_enum(Shade, "A shade.", {"LIGHT": "Light."})
    with pytest.raises(ValueError, match=r"descriptions for \['GREY'\]"):
        describe_enum(Shade, "A shade.", {"LIGHT": "Light.", "DARK": "Dark.", "GREY": "Grey."})
    describe_enum(Shade, "A shade.", {"LIGHT": "Light.", "DARK": "Dark."})
    definition = Shade.__strawberry_definition__  # type: ignore[attr-defined]
    assert definition.description == "A shade."
    assert [(v.name, v.description) for v in definition.values] == [
        ("LIGHT", "Light."),
        ("DARK", "Dark."),
    ]


def test_the_check_names_each_part_without_one() -> None:
    schema = build_schema(
        '''
        """Documented."""
        type Query {
          """Documented."""
          a(x: Int): Int
          b: Color
          c(filter: Filter): Int
        }
        enum Color {
          """Documented."""
          RED
          BLUE
        }
        """Documented."""
        input Filter {
          """Documented."""
          near: Int
          far: Int
        }
        '''
    )
    assert undocumented(schema) == [
        "Color",
        "Color.BLUE",
        "Filter.far",
        "Query.a(x)",
        "Query.b",
        "Query.c",
        "Query.c(filter)",
    ]
