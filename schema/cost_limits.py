"""Cheap ceilings on a parsed document, checked before validation (whose overlap check is n²)."""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Iterator
from contextlib import suppress
from typing import ClassVar

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.schema import validate_document

VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"


class _TooCostly(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


class _Budget:
    """Counts selected fields, each fragment's contents at every spread (memoized per fragment)."""

    def __init__(self, document: DocumentNode, max_selections: int, max_repeated: int) -> None:
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.max_selections, self.max_repeated = max_selections, max_repeated
        self.sizes: dict[str, int] = {}
        self.names: dict[str, Counter[str]] = {}
        self.visiting: set[str] = set()

    def size(self, selection_set: SelectionSetNode | None) -> int:
        """Fields under a selection set; also checks each set's repeated response names."""
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += 1 + self.size(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                total += self.size(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment_size(selection.name.value)
            if total > self.max_selections:
                raise _TooCostly(
                    f"The operation selects more than {self.max_selections} fields; "
                    "split it into smaller operations."
                )
        repeated = self.response_names(selection_set).most_common(1)
        if repeated and repeated[0][1] > self.max_repeated:
            raise _TooCostly(
                f"The field '{repeated[0][0]}' is selected {repeated[0][1]} times in one "
                f"selection set; at most {self.max_repeated} are allowed."
            )
        return total

    def fragment_size(self, name: str) -> int:
        if name in self.sizes:
            return self.sizes[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.visiting:
            return 0  # unknown or cyclic: validation reports it
        self.visiting.add(name)
        self.sizes[name] = self.size(fragment.selection_set)
        self.visiting.discard(name)
        return self.sizes[name]

    def response_names(self, selection_set: SelectionSetNode | None) -> Counter[str]:
        """The response names one selection set merges, through fragments at its level."""
        names: Counter[str] = Counter()
        if selection_set is None:
            return names
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                names[(selection.alias or selection.name).value] += 1
            elif isinstance(selection, InlineFragmentNode):
                names.update(self.response_names(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                names.update(self.fragment_names(selection.name.value))
        return names

    def fragment_names(self, name: str) -> Counter[str]:
        if name not in self.names:
            fragment = self.fragments.get(name)
            if fragment is None or name in self.visiting:
                return Counter()
            self.visiting.add(name)
            self.names[name] = self.response_names(fragment.selection_set)
            self.visiting.discard(name)
        return self.names[name]


def check_selection_budget(
    document: DocumentNode, *, max_selections: int, max_repeated: int
) -> GraphQLError | None:
    """The error for a document over the budget, or None."""
    budget = _Budget(document, max_selections, max_repeated)
    total = 0
    try:
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                total += budget.size(definition.selection_set)
            elif isinstance(definition, FragmentDefinitionNode):
                budget.fragment_size(definition.name.value)  # unused ones are checked too
            if total > max_selections:
                raise _TooCostly(
                    f"The document selects more than {max_selections} fields; "
                    "split it into smaller operations."
                )
    except _TooCostly as too_costly:
        return GraphQLError(too_costly.message, extensions={"code": VALIDATION_FAILED})
    return None


class BudgetedValidationCache(ValidationCache):
    """Strawberry's ValidationCache, which first refuses a document over the selection budget.

    It answers as a validation error (never an exception), so queries, mutations and
    subscriptions over WebSocket all get the same coded error instead of the costly validation.
    """

    # shared by every request (an instance lives for one), least recently used first
    _results: ClassVar[OrderedDict[tuple[object, str], list[GraphQLError]]] = OrderedDict()

    def __init__(self, *, maxsize: int, max_selections: int, max_repeated: int) -> None:
        super().__init__(maxsize=maxsize)
        self.maxsize = maxsize
        self.max_selections, self.max_repeated = max_selections, max_repeated

    def on_validate(self) -> Iterator[None]:
        document = self.execution_context.graphql_document
        error = (
            check_selection_budget(
                document, max_selections=self.max_selections, max_repeated=self.max_repeated
            )
            if document is not None
            else None
        )
        if error is None:
            yield from self._validate_once()
            return
        self.execution_context.pre_execution_errors = [error]
        yield

    def _validate_once(self) -> Iterator[None]:
        """Validation results by (schema, document text).

        Strawberry's cache keys on the rule classes too, and the depth and alias limiters make
        new ones for every request, so it never hit: every request paid for a full validation.
        One schema's rules are the same for every request, so its text decides the result.
        """
        context = self.execution_context
        if context.query is None or context.graphql_document is None:
            yield from super().on_validate()
            return
        key = (context.schema._schema, context.query)
        results = self._results
        errors = results.get(key)
        if errors is None:
            errors = validate_document(
                context.schema._schema, context.graphql_document, context.validation_rules
            )
            results[key] = errors
            if len(results) > self.maxsize:
                results.popitem(last=False)
        else:
            results.move_to_end(key)
        context.pre_execution_errors = errors
        yield


class QuietParserCache(ParserCache):
    """Strawberry's ParserCache, leaving a syntax error to strawberry's own parse step.

    The stock hook raises from inside the extension, which the WebSocket path does not catch
    (the subscription just completes); strawberry's parse step answers it as a coded error.
    """

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        # on a syntax error, strawberry parses again and reports it; failures are not cached
        with suppress(GraphQLError):
            context.graphql_document = self.cached_parse_document(
                context.query, **context.parse_options
            )
        yield
