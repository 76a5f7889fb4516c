"""Plain leaf fields read in line: the executor graphql-core runs every operation with.

graphql-core resolves each field of each object on its own: a path, a resolve info, the
resolver (Strawberry's, behind the R-GEN-8 guard of api/scope.py), then completion by
type. The console's overview has some 850 fields, most a plain attribute of a list
item (a day's uploads, a lot's expiry); cProfile put 60 % of its time in that
machinery, and reading them here took its CPU time per request from about 15 to 13 ms.
Such a field is read as its resolver would read it: the attribute, then the leaf
type's own `coerce_output_value`, exactly as graphql-core completes a leaf. A list of
objects whose selected fields are all such leaves is built in one loop.

Plain means: a Strawberry field without a resolver or extensions (Strawberry marks
its resolver `_is_default`; it reads the attribute with the config's default
resolver, `getattr`), no arguments, a scalar or enum type (non-null or not), and no
R-GEN-8 guard that refuses the principal (api/scope.py: for people the guard only
passes the call on). `__typename` is the parent type's name. Anything else, and any
value that is not plainly fine (null for a non-null type, an exception or awaitable,
a failed or null coercion), takes graphql-core's own path for that field, which then
answers or fails exactly as it always did: reading an attribute twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    Undefined,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.execution.incremental.incremental_executor import IncrementalExecutor
from graphql.pyutils import AwaitableOrValue, Path, gather_with_cancel
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from ..services.principals import Role
from .scope import people_only_resolver

TYPENAME = "__typename"

# A plain field: (response name, attribute, coerce, non-null); or a constant (typename).
Leaf = tuple[str, str, Callable[[Any], Any], bool]
# Per response name in order: a Leaf, a constant string, or None (graphql-core's path).
Plan = tuple[tuple[str, FieldDetailsList, Leaf | str | None], ...]


def plain_attribute(field: GraphQLField, *, as_gateway: bool) -> str | None:
    """The attribute a plain Strawberry field reads, or None when the field is not plain."""
    resolve = field.resolve
    if resolve is not None and (inner := people_only_resolver(resolve)) is not None:
        if as_gateway:
            return None  # the guard refuses: graphql-core's path raises FORBIDDEN
        resolve = inner
    if resolve is None or getattr(resolve, "_is_default", False) is not True or field.args:
        return None
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or not definition.is_basic_field:
        return None
    if definition.default_resolver is not getattr:
        return None
    return definition.python_name


def leaf_of(field: GraphQLField, attribute: str, response_name: str) -> Leaf | None:
    type_ = field.type
    non_null = isinstance(type_, GraphQLNonNull)
    named = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if not is_leaf_type(named):
        return None  # lists and objects are completed by graphql-core
    return (response_name, attribute, named.coerce_output_value, non_null)


class LeafExecutor(IncrementalExecutor):
    """graphql-core's executor, with plain leaf fields read in line (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        principal = getattr(self.context_value, "principal", None)
        self._as_gateway = principal is None or principal.role is Role.INSTITUTION
        self._plans: dict[tuple[GraphQLObjectType, int], tuple[GroupedFieldSet, Plan]] = {}

    def plan(self, parent_type: GraphQLObjectType, grouped: GroupedFieldSet) -> Plan:
        # graphql-core memoizes a selection's grouped field set per list, so every item
        # of a list finds its plan here; the set is kept so that its id is not reused.
        key = (parent_type, id(grouped))
        cached = self._plans.get(key)
        if cached is not None:
            return cached[1]
        steps: list[tuple[str, FieldDetailsList, Leaf | str | None]] = []
        for response_name, details in grouped.items():
            node = details[0].node
            how: Leaf | str | None = None
            if node.name.value == TYPENAME:
                how = parent_type.name
            elif self.middleware_manager is None and not node.arguments:
                field = parent_type.fields.get(node.name.value)
                attribute = field and plain_attribute(field, as_gateway=self._as_gateway)
                if field is not None and attribute is not None:
                    how = leaf_of(field, attribute, response_name)
            steps.append((response_name, details, how))
        plan = tuple(steps)
        self._plans[key] = (grouped, plan)
        return plan

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        """graphql-core's `execute_fields`, with plain leaves read in line."""
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, details, how in self.plan(parent_type, grouped_field_set):
                if how.__class__ is str:
                    results[response_name] = how
                    continue
                if how is not None:
                    value = _read(source_value, how, is_awaitable)  # type: ignore[arg-type]
                    if value is not _SLOW:
                        results[response_name] = value
                        continue
                field_path = Path(path, response_name, parent_type.name)
                result = self.execute_field(
                    parent_type, source_value, details, field_path, position_context
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

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                field = awaitable_fields[0]
                results[field] = await results[field]
            else:
                awaited = await gather_with_cancel(*(results[f] for f in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()

    def complete_iterable_value(
        self,
        item_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        items: Iterable[Any],
        position_context: Any,
    ) -> AwaitableOrValue[list[Any]]:
        """A list of objects whose selected fields are all plain leaves is built in one
        loop; should any item not be plainly fine, graphql-core completes the whole list
        (nothing was consumed: only lists and tuples are read here)."""
        plan = self._leaf_items_plan(item_type, field_details_list, path, items, position_context)
        if plan is not None:
            completed = _leaf_items(items, plan, self.is_awaitable)
            if completed is not None:
                return completed
        return super().complete_iterable_value(
            item_type, field_details_list, info, path, items, position_context
        )

    def _leaf_items_plan(
        self,
        item_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        path: Path,
        items: Iterable[Any],
        position_context: Any,
    ) -> tuple[bool, Plan] | None:
        """(items non-null, the items' plan) when the list can be built in one loop."""
        if items.__class__ not in (list, tuple) or position_context is not None:
            return None
        non_null = isinstance(item_type, GraphQLNonNull)
        object_type = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        if not isinstance(object_type, GraphQLObjectType) or object_type.is_type_of is not None:
            return None
        if self.get_stream_usage(field_details_list, path) is not None:
            return None
        grouped, new_defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        if new_defer_usages:
            return None
        plan = self.plan(object_type, grouped)
        if any(how is None for _, _, how in plan):
            return None
        return non_null, plan


_SLOW = object()  # the field takes graphql-core's path


def _leaf_items(
    items: Iterable[Any], how: tuple[bool, Plan], is_awaitable: Callable[[Any], bool]
) -> list[Any] | None:
    """Each item's dict of plain leaves, or None when graphql-core must decide."""
    non_null, plan = how
    completed: list[Any] = []
    for item in items:
        if item is None or item is Undefined:
            if non_null:
                return None
            completed.append(None)
            continue
        if isinstance(item, Exception) or is_awaitable(item):
            return None
        row: dict[str, Any] = {}
        for response_name, _, step in plan:
            if step.__class__ is str:
                row[response_name] = step
                continue
            value = _read(item, step, is_awaitable)  # type: ignore[arg-type]
            if value is _SLOW:
                return None
            row[response_name] = value
        completed.append(row)
    return completed


def _read(source: Any, leaf: Leaf, is_awaitable: Callable[[Any], bool]) -> Any:
    """The completed value of a plain leaf, or _SLOW when graphql-core must decide."""
    _, attribute, coerce, non_null = leaf
    try:
        value = getattr(source, attribute)
        if value is None or value is Undefined:
            return _SLOW if non_null else None
        if isinstance(value, Exception) or is_awaitable(value):
            return _SLOW
        coerced = coerce(value)
    except Exception:  # noqa: BLE001 - graphql-core's path raises it, located
        return _SLOW
    if coerced is None or coerced is Undefined:
        return _SLOW
    return coerced
