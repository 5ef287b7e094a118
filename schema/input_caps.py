"""Length caps on every text argument, checked after validation and before any resolver runs."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any, NamedTuple

from graphql import (
    ArgumentNode,
    DocumentNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    ObjectFieldNode,
    StringValueNode,
    TypeInfo,
    TypeInfoVisitor,
    VariableNode,
    Visitor,
    visit,
)
from strawberry.extensions import SchemaExtension

from schema.text_guard import SURROGATE_MESSAGE, SURROGATES, contains

# Characters per argument or input field, by name; anything else gets DEFAULT_CAP (IDs ID_CAP).
TEXT_CAPS = {
    "search": 200,
    "firstName": 100,
    "lastName": 100,
    "legalFirstName": 100,
    "legalLastName": 100,
    "preferredName": 100,
    "displayName": 200,
    "practiceName": 200,
    "email": 320,  # RFC 5321: 64 + 1 + 255
    "mobilePhone": 40,
    "carrier": 200,
    "memberId": 100,
    "body": 10_000,  # one message
    "password": 256,
    "token": 512,
    "paymentToken": 256,
    "column": 200,
    "after": 512,
}
SEARCH_MAX_WORDS = 12
DEFAULT_CAP = 1000
ID_CAP = 100


class _Refused(Exception):
    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message


def _check_text(name: str, path: str, value: str, is_id: bool) -> None:
    cap = ID_CAP if is_id else TEXT_CAPS.get(name, DEFAULT_CAP)
    if len(value) > cap:
        raise _Refused(path, f"must be at most {cap} characters")
    if name == "search" and len(value.split()) > SEARCH_MAX_WORDS:
        raise _Refused(path, f"must be at most {SEARCH_MAX_WORDS} words")
    if SURROGATES.search(value):
        raise _Refused(path, SURROGATE_MESSAGE)


def _check_value(name: str, path: str, value: Any, type_: GraphQLInputType | None) -> None:
    """Walks a variable's value along its declared input type."""
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if value is None or type_ is None:
        return
    if isinstance(type_, GraphQLList):
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            _check_value(name, f"{path}[{index}]", item, type_.of_type)
    elif isinstance(type_, GraphQLInputObjectType) and isinstance(value, dict):
        for key, item in value.items():
            field = type_.fields.get(key)
            _check_value(key, f"{path}.{key}", item, field.type if field else None)
    elif isinstance(type_, GraphQLScalarType) and isinstance(value, str):
        if type_.name in ("String", "ID"):
            _check_text(name, path, value, type_.name == "ID")
        elif contains(SURROGATES, value):
            raise _Refused(path, SURROGATE_MESSAGE)


class _CapsVisitor(Visitor):
    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.names: list[str] = []
        self.uses: list[_Use] = []

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        self.names.append(node.name.value)

    def leave_argument(self, _node: ArgumentNode, *_: Any) -> None:
        self.names.pop()

    def enter_object_field(self, node: ObjectFieldNode, *_: Any) -> None:
        self.names.append(node.name.value)

    def leave_object_field(self, _node: ObjectFieldNode, *_: Any) -> None:
        self.names.pop()

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        type_ = self.type_info.get_input_type()
        if isinstance(type_, GraphQLNonNull):
            type_ = type_.of_type
        if self.names:
            is_id = isinstance(type_, GraphQLScalarType) and type_.name == "ID"
            _check_text(self.names[-1], ".".join(self.names), node.value, is_id)

    def enter_variable(self, node: VariableNode, *_: Any) -> None:
        if self.names:  # a use, not the variable's definition
            self.uses.append(
                _Use(
                    self.names[-1],
                    ".".join(self.names),
                    node.name.value,
                    self.type_info.get_input_type(),
                )
            )


class _Use(NamedTuple):
    """Where a document uses a variable: the argument's name and path, and its input type."""

    name: str
    path: str
    variable: str
    type: GraphQLInputType | None


# Documents whose literals passed, with their variable uses: the parser cache hands back the
# same document object for the same text, so a repeated operation is not walked again (the
# walk cost more than resolving a page of fields). Each entry holds its document, so an id
# is not reused while it is a key.
_CHECKED: OrderedDict[int, tuple[DocumentNode, list[_Use]]] = OrderedDict()
_CHECKED_MAX = 512


def _variable_uses(schema: Any, document: DocumentNode) -> list[_Use]:
    """The document's variable uses, its literals checked (_Refused) on first sight."""
    known = _CHECKED.get(id(document))
    if known is not None and known[0] is document:
        _CHECKED.move_to_end(id(document))
        return known[1]
    type_info = TypeInfo(schema)
    visitor = _CapsVisitor(type_info)
    visit(document, TypeInfoVisitor(type_info, visitor))
    _CHECKED[id(document)] = (document, visitor.uses)
    if len(_CHECKED) > _CHECKED_MAX:
        _CHECKED.popitem(last=False)
    return visitor.uses


class InputCaps(SchemaExtension):
    """INVALID_INPUT naming the field when a text argument is longer than its cap."""

    def on_validate(self) -> Iterator[None]:
        # Listed after the validation cache, whose hook has validated by the time this one
        # starts: errors set here are seen before execution (an exit hook would be too late).
        context = self.execution_context
        document = context.graphql_document
        if document is not None and not context.pre_execution_errors:
            self._check(context.schema._schema, document, context.variables or {})
        yield

    def _check(self, schema: Any, document: DocumentNode, variables: dict[str, Any]) -> None:
        context = self.execution_context
        try:
            for use in _variable_uses(schema, document):
                _check_value(use.name, use.path, variables.get(use.variable), use.type)
        except _Refused as refused:
            # a new list: the validation cache keeps the one it returned
            context.pre_execution_errors = [
                GraphQLError(
                    f"Some fields need attention: {refused.field} {refused.message}",
                    extensions={
                        "code": "INVALID_INPUT",
                        "fields": [{"field": refused.field, "message": refused.message}],
                    },
                )
            ]
