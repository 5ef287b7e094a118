"""Descriptions for GraphQL enums and their values, domain-derived enums included."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from strawberry.types.enum import has_enum_definition

E = TypeVar("E")


def describe_enum(enum: E, description: str, values: Mapping[str, str]) -> E:
    """Describe a strawberry enum and each of its values (by GraphQL name), in place.

    Works the same for an enum declared with `@strawberry.enum` and for one derived from a
    domain enum with `strawberry.enum(DomainEnum, name=...)`, so the domain enum stays free of
    schema wording. Every value must be described, and only values the enum has.
    """
    target: object = enum  # narrowed below without changing what is returned
    if not has_enum_definition(target):
        raise TypeError(f"{enum!r} is not a strawberry enum")
    definition = target.__strawberry_definition__
    names = {value.name for value in definition.values}
    if names != set(values):
        raise ValueError(
            f"{definition.name}: descriptions for {sorted(set(values) - names)} "
            f"but none for {sorted(names - set(values))}"
        )
    definition.description = description
    for value in definition.values:
        value.description = values[value.name]
    return enum
