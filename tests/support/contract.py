"""The public GraphQL contract and our schema, both as graphql-core schemas to compare."""

from __future__ import annotations

from graphql import GraphQLArgument, GraphQLSchema, build_schema, print_ast

from caseload.settings import Settings
from schema.root import build_schema as build_caseload_schema
from tests.support.paths import SHARED

CONTRACT = SHARED / "contract" / "schema.graphql"


def our_schema() -> GraphQLSchema:
    return build_schema(build_caseload_schema(Settings()).as_str())


def contract_schema() -> GraphQLSchema:
    return build_schema(CONTRACT.read_text())


def argument_default(arg: GraphQLArgument) -> str | None:
    """An argument's default as printed SDL; `= null` on a nullable argument means no default."""
    node = arg.ast_node.default_value if arg.ast_node else None
    printed = print_ast(node) if node else None
    return None if printed == "null" else printed
