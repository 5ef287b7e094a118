"""Refuse operations whose text carries NUL characters or lone surrogates, before any resolver runs.

PostgreSQL cannot store U+0000 in text, a lone UTF-16 surrogate (which JSON's `\\ud800` escape
can carry) is no character at all and cannot be encoded to UTF-8, and no name, message or search
needs either: such input gets a clear INVALID_INPUT error instead of a database failure halfway
through a request.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

# A NUL written as a GraphQL string escape in the document itself.
_ESCAPED_NUL = re.compile(r"\\u0000|\\u\{0+\}", re.IGNORECASE)
_NUL = re.compile("\x00")
# json.loads joins an escaped surrogate pair into one character, so any surrogate left is lone.
SURROGATES = re.compile("[\ud800-\udfff]")
MESSAGE = "Text may not contain NUL characters (U+0000). Remove them and try again."
SURROGATE_MESSAGE = (
    "Text may not contain unpaired UTF-16 surrogates (U+D800 to U+DFFF): the text is not "
    "valid Unicode. Send it as UTF-8 and try again."
)


def contains(pattern: re.Pattern[str], value: Any) -> bool:
    if isinstance(value, str):
        return pattern.search(value) is not None
    if isinstance(value, dict):
        return any(contains(pattern, k) or contains(pattern, v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(contains(pattern, item) for item in value)
    return False


def _has_nul(value: Any) -> bool:
    return contains(_NUL, value)


def text_problem(query: str, variables: Any) -> str | None:
    """The message for text that cannot be stored, or None when it is fine."""
    if "\x00" in query or _ESCAPED_NUL.search(query) or _has_nul(variables):
        return MESSAGE
    if SURROGATES.search(query) or contains(SURROGATES, variables):
        return SURROGATE_MESSAGE
    return None


class RejectNulCharacters(SchemaExtension):
    """Answers as a validation-phase error, never an exception, so WebSockets get it too.

    Listed after the validation cache, whose hook has validated by the time this one starts.
    """

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        problem = text_problem(context.query or "", context.variables)
        if problem is not None and not context.pre_execution_errors:
            # a new list, since the validation cache keeps the one it returned
            context.pre_execution_errors = [
                GraphQLError(problem, extensions={"code": "INVALID_INPUT"})
            ]
        yield
