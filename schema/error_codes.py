"""Top-level errors carry Apollo's `extensions.code`; production hides field-name suggestions."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from graphql import GraphQLError
from strawberry.extensions import MaskErrors, SchemaExtension

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
BAD_USER_INPUT = "BAD_USER_INPUT"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"

# graphql-core appends these to unknown field, argument, type and enum value messages.
_TOKEN_CAP = "Parsing aborted"  # graphql-core: "Document contains more than N tokens. ..."
_SUGGESTION = re.compile(r" Did you mean .*\?$", re.DOTALL)


def set_code(error: GraphQLError, code: str) -> None:
    """Give an error a code unless it already has one."""
    if error.extensions is None:
        error.extensions = {}
    error.extensions.setdefault("code", code)


def hide_suggestions(errors: Iterable[GraphQLError]) -> None:
    for error in errors:
        error.message = _SUGGESTION.sub("", error.message)


class CodedMaskErrors(MaskErrors):
    """MaskErrors whose masked error says INTERNAL_SERVER_ERROR, as Apollo Server's does."""

    def _process_result(self, result: object) -> None:
        # Strawberry's own checks a runtime Protocol (a slow isinstance) on every result,
        # once per item of every live stream; an attribute read does the same.
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined] # has errors

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": INTERNAL_SERVER_ERROR}
        return masked


class ErrorCodes(SchemaExtension):
    """Codes parse and validation errors; listed first, so it sees every other hook's errors."""

    def __init__(self, *, production: bool) -> None:
        self.production = production

    def on_parse(self) -> Iterator[None]:
        yield
        for error in self.execution_context.pre_execution_errors or ():
            set_code(error, self._default_code(error))

    def on_validate(self) -> Iterator[None]:
        yield
        for error in self.execution_context.pre_execution_errors or ():
            set_code(error, VALIDATION_FAILED)

    def on_operation(self) -> Iterator[None]:
        # A failing hook (ParserCache parses in its own) skips the exits of the hooks entered
        # before it, so parse errors are told apart here: they leave no document behind.
        try:
            yield
        except GraphQLError as failure:
            set_code(failure, self._default_code(failure))
            raise
        result = self.execution_context.result
        errors = list(result.errors or ()) if result is not None else []
        errors += self.execution_context.pre_execution_errors or []
        for error in errors:
            set_code(error, self._default_code(error))
        if self.production:
            hide_suggestions(errors)

    def _default_code(self, error: GraphQLError) -> str:
        if self.execution_context.graphql_document is None:
            # the token cap aborts parsing, but it is a limit like depth and aliases
            return VALIDATION_FAILED if _TOKEN_CAP in error.message else PARSE_FAILED
        # without a path: variable coercion, the request's values do not fit their types;
        # with one: graphql-core's own (a null in a non-null field), a server fault
        return BAD_USER_INPUT if error.path is None else INTERNAL_SERVER_ERROR
