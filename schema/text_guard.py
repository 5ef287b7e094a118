"""Refuse operations whose text carries NUL characters, before any resolver runs.

PostgreSQL cannot store U+0000 in text, and no name, message or search needs it: such input
gets a clear INVALID_INPUT error instead of a database failure halfway through a request.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

# A NUL written as a GraphQL string escape in the document itself.
_ESCAPED_NUL = re.compile(r"\\u0000|\\u\{0+\}", re.IGNORECASE)
MESSAGE = "Text may not contain NUL characters (U+0000). Remove them and try again."


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


class RejectNulCharacters(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query or ""
        if "\x00" in query or _ESCAPED_NUL.search(query) or _has_nul(context.variables):
            raise GraphQLError(MESSAGE, extensions={"code": "INVALID_INPUT"})
        yield
