"""Direct resolvers for the fields that need none of Strawberry's per-call machinery.

Strawberry resolves every field through a generic wrapper: for a plain attribute three
calls deep (`_get_basic_result` → `get_result` → `getattr`); for a method taking only
`self`/`root` and `info`, a dozen (an `Info`, argument conversion that has nothing to
convert, a chain of field extensions that is empty, two closures). The console's
overview resolves about 1,340 fields per request, and those wrappers were a sizeable
share of its time. Here, once when the schema is built, each such field gets a
resolver that does just what Strawberry's would have done for it: read the attribute,
or call the method with the same values under the same parameter names. Fields with
arguments, field extensions (permission classes are extensions) or exception
handlers keep Strawberry's resolver.
"""

from __future__ import annotations

from collections.abc import Callable
from inspect import isasyncgenfunction

from graphql import GraphQLObjectType, GraphQLSchema
from strawberry.types.field import StrawberryField
from strawberry.types.fields.resolver import StrawberryResolver
from strawberry.types.info import Info

from .context import ResolveInfo, Resolver

# Where Strawberry keeps, on each graphql-core field, the field it was built from.
_DEFINITION = "strawberry-definition"
# Each attribute resolver made here -> the attribute it reads (see `attribute_of`).
_ATTRIBUTES: dict[Resolver, str] = {}


def streamline(schema: GraphQLSchema, info_class: type[Info] = Info) -> int:
    """Give each plain field of `schema` a direct resolver; returns how many changed.
    Run before anything wraps the resolvers (the R-GEN-8 guard, the audit trail)."""
    changed = 0
    for name, type_ in schema.type_map.items():
        if not isinstance(type_, GraphQLObjectType) or name.startswith("__"):
            continue
        for field in type_.fields.values():
            definition = field.extensions.get(_DEFINITION)
            if not isinstance(definition, StrawberryField) or field.args:
                continue
            direct = _direct(definition, info_class)
            if direct is not None:
                field.resolve = direct
                changed += 1
    return changed


def _direct(field: StrawberryField, info_class: type[Info]) -> Resolver | None:
    if field.extensions:
        return None
    resolver = field.base_resolver
    if resolver is None:
        return _attribute(field.python_name)
    return _method(field, resolver, info_class)


def attribute_of(resolve: Resolver) -> str | None:
    """The attribute `resolve` reads, when it is one of the attribute resolvers made
    here: a wrapper may then read it itself instead of calling through (api/scope.py)."""
    return _ATTRIBUTES.get(resolve)


def _attribute(name: str) -> Resolver:
    def resolve(source: object, _info: ResolveInfo) -> object:
        return getattr(source, name)

    _ATTRIBUTES[resolve] = name
    return resolve


def _method(
    field: StrawberryField, resolver: StrawberryResolver[object], info_class: type[Info]
) -> Resolver | None:
    """Strawberry's call (types/arguments.get_arguments): `self` positionally, `root`,
    `parent` and `info` by their names; nothing else when the field has no arguments."""
    function = resolver.wrapped_func
    if resolver.arguments or not callable(function) or isasyncgenfunction(function):
        return None
    as_self = resolver.self_parameter is not None
    sources = [p.name for p in (resolver.root_parameter, resolver.parent_parameter) if p]
    info_parameter = resolver.info_parameter
    info_name = info_parameter.name if info_parameter is not None else None
    if as_self and not sources and info_name is None:  # a method of `self` alone
        return _self_only(function)
    if as_self and not sources and info_name == "info":  # the usual method: (self, info)
        return _self_and_info(function, field, info_class)

    def resolve(source: object, info: ResolveInfo) -> object:
        keywords: dict[str, object] = dict.fromkeys(sources, source)
        if info_name is not None:
            keywords[info_name] = info_class(_raw_info=info, _field=field)
        return function(source, **keywords) if as_self else function(**keywords)

    return resolve


def _self_only(function: Callable[..., object]) -> Resolver:
    def resolve(source: object, _info: ResolveInfo) -> object:
        return function(source)

    return resolve


def _self_and_info(
    function: Callable[..., object], field: StrawberryField, info_class: type[Info]
) -> Resolver:
    def resolve(source: object, info: ResolveInfo) -> object:
        return function(source, info=info_class(_raw_info=info, _field=field))

    return resolve
