"""graphql-core's executor with a compiled plan for plain fields: same answers, less bookkeeping.

A list page completes some 800 fields, nearly all of them plain attributes of Strawberry
objects (no resolver, no arguments). graphql-core spends on each one a resolve-info object,
a path, Strawberry's resolver wrapper and a walk through `complete_value`; here a selection's
fields are compiled once per request (per parent type and field group, which graphql-core
shares across every item of a list) into steps that read the attribute, coerce the leaf and
go on. The plan covers plain fields only, and only while a value is ordinary: a null where
the type forbids one, an exception for a value, a failed coercion or type check, a field
with a resolver, arguments, directives that defer, or a middleware, all run through
graphql-core's own `execute_field`, in place and in the same order, so errors, their paths
and null propagation are graphql-core's own. A plain field is a pure attribute read, so
running it again on the slow path changes nothing. `tests/test_fast_execution.py` runs
documents through both executors and compares the bytes.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, NamedTuple

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.execution.executor import to_nodes
from graphql.pyutils import AwaitableOrValue, Path, Undefined, gather_with_cancel
from graphql.type.introspection import TypeNameMetaFieldDef
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField

_MISSING = object()
_APPLIED = frozenset({"skip", "include"})

# step kinds
_SLOW, _LEAF, _LEAF_LIST, _TYPE_NAME, _OBJECT, _OBJECT_LIST, _RESOLVED = 0, 1, 2, 3, 4, 5, 6


class _Step(NamedTuple):
    kind: int
    attribute: str
    leaf: GraphQLLeafType | None
    non_null: bool  # the field's own type is non-null
    items_non_null: bool  # for a list: its items are non-null
    object_type: GraphQLObjectType | None = None  # for objects and lists of them
    field_def: GraphQLField | None = None
    item_type: GraphQLOutputType | None = None  # for lists of objects: the items' own type


_SLOW_STEP = _Step(_SLOW, "", None, False, False)
_TYPE_NAME_STEP = _Step(_TYPE_NAME, "", None, True, False)


def _plain_type_check(object_type: GraphQLObjectType) -> bool:
    """The type has no is_type_of, or Strawberry's own (an isinstance check, info unused)."""
    check = object_type.is_type_of
    return check is None or "_get_is_type_of.<locals>" in getattr(check, "__qualname__", "")


# per GraphQLField: how a plain field is read, or the slow step (the schema outlives requests)
_FIELD_STEPS: dict[int, tuple[GraphQLField, _Step]] = {}


def _plain_attribute(field_def: GraphQLField) -> str | None:
    """The attribute a field reads, if it is Strawberry's basic field (no resolver, no
    extensions, no arguments) read with the default `getattr`."""
    definition = (field_def.extensions or {}).get("strawberry-definition")
    resolve = field_def.resolve
    if (
        not isinstance(definition, StrawberryField)
        or field_def.args
        or resolve is None
        or getattr(resolve, "__name__", "") != "_get_basic_result"
        or not definition.is_basic_field
        or definition.default_resolver is not getattr
    ):
        return None
    return definition.python_name


def _simple_resolver(field_def: GraphQLField) -> StrawberryField | None:
    """The Strawberry field of a sync resolver without arguments, extensions (permissions are
    extensions) or exception handlers: what Strawberry's wrapper does for it is only to pass
    the source and an Info, which the plan does directly."""
    definition = (field_def.extensions or {}).get("strawberry-definition")
    resolve = field_def.resolve
    if (
        not isinstance(definition, StrawberryField)
        or field_def.args
        or definition.base_resolver is None
        or definition.arguments
        or definition.extensions
        or definition.is_async
        or resolve is None
        or getattr(resolve, "__name__", "") != "_resolver"
    ):
        return None
    free = getattr(resolve, "__code__", None)
    cells = dict(zip(free.co_freevars, resolve.__closure__ or (), strict=True)) if free else {}
    handlers = cells.get("field_exception_handlers")
    if handlers is None or handlers.cell_contents:
        return None
    return definition


def _compile_field(field_def: GraphQLField) -> _Step:
    if field_def is TypeNameMetaFieldDef:
        return _TYPE_NAME_STEP
    attribute = _plain_attribute(field_def)
    if attribute is None:
        if _simple_resolver(field_def) is not None:
            inner = field_def.type
            inner = inner.of_type if isinstance(inner, GraphQLNonNull) else inner
            plain = inner if isinstance(inner, GraphQLObjectType) else None
            if plain is not None and not _plain_type_check(plain):
                plain = None
            return _Step(_RESOLVED, "", None, False, False, plain, field_def)
        return _SLOW_STEP
    kind: GraphQLOutputType = field_def.type
    non_null = isinstance(kind, GraphQLNonNull)
    inner = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
    if is_leaf_type(inner):
        return _Step(_LEAF, attribute, inner, non_null, False)
    if isinstance(inner, GraphQLObjectType) and _plain_type_check(inner):
        return _Step(_OBJECT, attribute, None, non_null, False, inner, field_def)
    if isinstance(inner, GraphQLList):
        item = inner.of_type
        items_non_null = isinstance(item, GraphQLNonNull)
        item = item.of_type if isinstance(item, GraphQLNonNull) else item
        if is_leaf_type(item):
            return _Step(_LEAF_LIST, attribute, item, non_null, items_non_null)
        if isinstance(item, GraphQLObjectType) and _plain_type_check(item):
            return _Step(
                _OBJECT_LIST,
                attribute,
                None,
                non_null,
                items_non_null,
                item,
                field_def,
                inner.of_type,
            )
    return _SLOW_STEP


def _step_of(field_def: GraphQLField) -> _Step:
    known = _FIELD_STEPS.get(id(field_def))
    if known is not None and known[0] is field_def:
        return known[1]
    step = _compile_field(field_def)
    _FIELD_STEPS[id(field_def)] = (field_def, step)
    return step


def _other_directives(field_details_list: FieldDetailsList) -> bool:
    """A directive other than @skip/@include (which collecting fields applied) on the field:
    @stream, or one of ours, is graphql-core's to read."""
    return any(
        directive.name.value not in _APPLIED
        for details in field_details_list
        for directive in details.node.directives or ()
    )


def _coerce(leaf: GraphQLLeafType, value: Any) -> Any:
    """The leaf's output value, or _MISSING where graphql-core would raise."""
    if value is None or value is Undefined or isinstance(value, Exception):
        return _MISSING
    try:
        coerced = leaf.coerce_output_value(value)
    except Exception:  # noqa: BLE001 - graphql-core's own path raises it again, located
        return _MISSING
    return _MISSING if coerced is None or coerced is Undefined else coerced


def _fast_value(step: _Step, source: Any, type_name: str) -> Any:
    """The completed value of a compiled step, or _MISSING to run the field the slow way."""
    if step.kind == _TYPE_NAME:
        return type_name
    try:
        value = getattr(source, step.attribute)
    except Exception:  # noqa: BLE001 - the slow path reads it again and reports it
        return _MISSING
    if value is None or value is Undefined:
        return _MISSING if step.non_null else None
    leaf = step.leaf
    assert leaf is not None
    if step.kind == _LEAF:
        return _coerce(leaf, value)
    if type(value) is not list and type(value) is not tuple:
        return _MISSING
    completed: list[Any] = []
    for item in value:
        if item is None and not step.items_non_null:
            completed.append(None)
            continue
        coerced = _coerce(leaf, item)
        if coerced is _MISSING:
            return _MISSING
        completed.append(coerced)
    return completed


class PlannedExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor whose selections run a compiled plan for plain fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        self._use_plan = manager is None or not manager.middlewares
        strawberry_schema = getattr(self.schema, "_strawberry_schema", None)
        self._info_class: Any = strawberry_schema.config.info_class if strawberry_schema else None
        self._use_plan = self._use_plan and self._info_class is not None
        # per request: the steps of each field group (graphql-core shares one group, by
        # identity, across the items of a list); the group is kept alive with its steps
        self._plans: dict[int, tuple[GroupedFieldSet, list[tuple[str, FieldDetailsList, _Step]]]]
        self._plans = {}

    def _plan(
        self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
    ) -> list[tuple[str, FieldDetailsList, _Step]]:
        known = self._plans.get(id(grouped_field_set))
        if known is not None and known[0] is grouped_field_set:
            return known[1]
        steps = []
        for response_name, field_details_list in grouped_field_set.items():
            field_def = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
            step = _SLOW_STEP
            if field_def is not None and not _other_directives(field_details_list):
                step = _step_of(field_def)
            steps.append((response_name, field_details_list, step))
        self._plans[id(grouped_field_set)] = (grouped_field_set, steps)
        return steps

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        if not self._use_plan or position_context is not None:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        # graphql-core's execute_fields, with the compiled steps tried first
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        type_name = parent_type.name
        try:
            for response_name, field_details_list, step in self._plan(
                parent_type, grouped_field_set
            ):
                if step.kind != _SLOW:
                    value = self._planned(
                        step, source_value, field_details_list, parent_type, path, response_name
                    )
                    if value is not _MISSING:
                        results[response_name] = value
                        if step.kind >= _OBJECT and is_awaitable(value):
                            awaitable_fields.append(response_name)
                        continue
                result = self.execute_field(
                    parent_type,
                    source_value,
                    field_details_list,
                    Path(path, response_name, type_name),
                    position_context,
                )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return _gathered(results, awaitable_fields)

    def _planned(
        self,
        step: _Step,
        source: Any,
        field_details_list: FieldDetailsList,
        parent_type: GraphQLObjectType,
        path: Path | None,
        response_name: str,
    ) -> Any:
        if step.kind == _RESOLVED:
            return self._resolved_field(
                step, source, field_details_list, parent_type, path, response_name
            )
        if step.kind >= _OBJECT:
            return self._object_field(
                step, source, field_details_list, parent_type, path, response_name
            )
        return _fast_value(step, source, parent_type.name)

    def _resolved_field(
        self,
        step: _Step,
        source: Any,
        field_details_list: FieldDetailsList,
        parent_type: GraphQLObjectType,
        path: Path | None,
        response_name: str,
    ) -> Any:
        """graphql-core's execute_field for a simple resolver, calling it as Strawberry's
        wrapper would (self or root as the source, info as Strawberry's Info)."""
        field_def = step.field_def
        assert field_def is not None
        definition: StrawberryField = field_def.extensions["strawberry-definition"]
        resolver = definition.base_resolver
        assert resolver is not None
        field_path = Path(path, response_name, parent_type.name)
        return_type = field_def.type
        info = self.build_resolve_info(
            field_def, to_nodes(field_details_list), parent_type, field_path
        )
        try:
            args: list[Any] = []
            kwargs: dict[str, Any] = {}
            if resolver.self_parameter:
                args.append(source)
            if parameter := resolver.parent_parameter:
                kwargs[parameter.name] = source
            if parameter := resolver.root_parameter:
                kwargs[parameter.name] = source
            if parameter := resolver.info_parameter:
                kwargs[parameter.name] = self._info_class(_raw_info=info, _field=definition)
            result = resolver(*args, **kwargs)
            if self.is_awaitable(result):
                return self.complete_awaitable_value(
                    return_type, field_details_list, info, field_path, result, None
                )
            object_type = step.object_type
            if (
                object_type is not None
                and result is not None
                and result is not Undefined
                and not isinstance(result, Exception)
                and _is_type(object_type, result)
            ):
                # what complete_value does with an ordinary object
                completed: Any = self._subfields(
                    object_type, field_details_list, field_path, result
                )
            else:
                completed = self.complete_value(
                    return_type, field_details_list, info, field_path, result, None
                )
        except Exception as raw_error:  # noqa: BLE001 - graphql-core's execute_field
            self.handle_field_error(raw_error, return_type, field_details_list, field_path)
            return None
        if self.is_awaitable(completed):
            return self._settled(completed, return_type, field_details_list, field_path)
        return completed

    def _object_field(
        self,
        step: _Step,
        source: Any,
        field_details_list: FieldDetailsList,
        parent_type: GraphQLObjectType,
        path: Path | None,
        response_name: str,
    ) -> Any:
        """An object (or list of objects) field, as execute_field completes it; _MISSING
        before anything ran when the value is not ordinary (execute_field then runs it)."""
        try:
            value = getattr(source, step.attribute)
        except Exception:  # noqa: BLE001 - the slow path reads it again and reports it
            return _MISSING
        if value is None or value is Undefined:
            return _MISSING if step.non_null else None
        object_type = step.object_type
        assert object_type is not None and step.field_def is not None
        field_type = step.field_def.type
        field_path = Path(path, response_name, parent_type.name)
        if step.kind == _OBJECT:
            if isinstance(value, Exception) or not _is_type(object_type, value):
                return _MISSING
            try:
                completed: Any = self._subfields(object_type, field_details_list, field_path, value)
            except Exception as raw_error:  # noqa: BLE001 - graphql-core's execute_field
                self.handle_field_error(raw_error, field_type, field_details_list, field_path)
                return None
        else:
            if type(value) is not list and type(value) is not tuple:
                return _MISSING
            try:
                completed = self._items(step, value, field_details_list, parent_type, field_path)
            except Exception as raw_error:  # noqa: BLE001 - graphql-core's execute_field
                self.handle_field_error(raw_error, field_type, field_details_list, field_path)
                return None
        if self.is_awaitable(completed):
            return self._settled(completed, field_type, field_details_list, field_path)
        return completed

    def _subfields(
        self,
        object_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        path: Path,
        value: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        grouped_field_set, new_defer_usages, _forbidden = self.collect_subfields(
            object_type, field_details_list
        )
        return self.execute_collected_subfields(
            object_type, value, path, grouped_field_set, new_defer_usages, None
        )

    def _items(
        self,
        step: _Step,
        items: list[Any] | tuple[Any, ...],
        field_details_list: FieldDetailsList,
        parent_type: GraphQLObjectType,
        path: Path,
    ) -> AwaitableOrValue[list[Any]]:
        """graphql-core's complete_iterable_value for plain objects; an item that is not one
        goes through its complete_list_item_value, with a real info."""
        object_type = step.object_type
        assert object_type is not None and step.field_def is not None
        item_type = step.item_type
        assert item_type is not None
        is_awaitable = self.is_awaitable
        completed: list[Any] = []
        awaitable_indices: list[int] = []
        info = None
        try:
            for index, item in enumerate(items):
                item_path = Path(path, index, None)
                if (
                    item is None
                    or isinstance(item, Exception)
                    or is_awaitable(item)
                    or not _is_type(object_type, item)
                ):
                    if info is None:
                        info = self.build_resolve_info(
                            step.field_def, to_nodes(field_details_list), parent_type, path
                        )
                    if is_awaitable(item):
                        completed.append(
                            self.complete_awaitable_list_item_value(
                                item, item_type, field_details_list, info, item_path, None
                            )
                        )
                        awaitable_indices.append(index)
                    elif self.complete_list_item_value(
                        item, completed, item_type, field_details_list, info, item_path, None
                    ):
                        awaitable_indices.append(index)
                    continue
                try:
                    value = self._subfields(object_type, field_details_list, item_path, item)
                except Exception as raw_error:  # noqa: BLE001 - complete_list_item_value
                    self.handle_field_error(raw_error, item_type, field_details_list, item_path)
                    completed.append(None)
                    continue
                if is_awaitable(value):
                    completed.append(self._settled(value, item_type, field_details_list, item_path))
                    awaitable_indices.append(index)
                else:
                    completed.append(value)
        except Exception:
            if awaitable_indices:
                self.settle_in_background([completed[index] for index in awaitable_indices])
            raise
        if not awaitable_indices:
            return completed
        return _gathered_items(completed, awaitable_indices)

    async def _settled(
        self,
        completed: Awaitable[Any],
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        path: Path,
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:  # noqa: BLE001 - graphql-core's await_completed
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None


def _is_type(object_type: GraphQLObjectType, value: Any) -> bool:
    check = object_type.is_type_of
    return check is None or bool(check(value, None))  # type: ignore[arg-type]


async def _gathered_items(completed: list[Any], awaitable_indices: list[int]) -> list[Any]:
    if len(awaitable_indices) == 1:
        index = awaitable_indices[0]
        completed[index] = await completed[index]
        return completed
    awaited = await gather_with_cancel(*(completed[index] for index in awaitable_indices))
    for index, value in zip(awaitable_indices, awaited, strict=True):
        completed[index] = value
    return completed


async def _gathered(results: dict[str, Any], awaitable_fields: list[str]) -> dict[str, Any]:
    if len(awaitable_fields) == 1:
        field = awaitable_fields[0]
        results[field] = await results[field]
        return results
    awaitables: list[Awaitable[Any]] = [results[field] for field in awaitable_fields]
    awaited = await gather_with_cancel(*awaitables)
    results.update(zip(awaitable_fields, awaited, strict=True))
    return results
