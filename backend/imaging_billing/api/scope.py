"""R-GEN-8 on every field: what a gateway may not read is refused wherever it is reached.

`services.reading.GATEWAY_READS` decides which objects and fields a gateway reads. Every
other field of the schema gets a guard that refuses the institution principal
(FORBIDDEN), whether the field is asked at the root, nested (`exam { lot }`,
`institution { account { ledger } }`) or in a mutation's answer. Mutations are not
guarded here: each use case authorises its caller. Carriers (payloads, connections,
edges, results, page info, user errors) hold nothing of their own but the objects
they carry, whose fields are guarded.

Fields a gateway may read keep their resolver untouched, so the upload path pays nothing.
"""

from __future__ import annotations

from graphql import GraphQLObjectType, GraphQLSchema, default_field_resolver

from ..domain.errors import RuleViolation
from ..services.principals import Role
from ..services.reading import gateway_may_read
from .context import ResolveInfo, Resolver

CARRIER_SUFFIXES = ("Payload", "Connection", "Edge", "Result")
CARRIERS = frozenset({"PageInfo", "UserError"})


def is_carrier(type_name: str) -> bool:
    return type_name in CARRIERS or type_name.endswith(CARRIER_SUFFIXES)


def guarded_objects(schema: GraphQLSchema) -> list[GraphQLObjectType]:
    """The object types whose fields a gateway reads only as R-GEN-8 allows."""
    return [
        type_
        for name, type_ in schema.type_map.items()
        if isinstance(type_, GraphQLObjectType)
        and not name.startswith("__")
        and type_ is not schema.mutation_type
        and not is_carrier(name)
    ]


# Guard -> the resolver it passes people's calls on to (api/leaves.py reads plain fields
# in line, as the guard would let them be read).
_GUARDED: dict[Resolver, Resolver] = {}


def _people_only(resolve: Resolver) -> Resolver:
    def guarded(root: object, info: ResolveInfo, **arguments: object) -> object:
        if info.context.principal.role is Role.INSTITUTION:
            raise RuleViolation("FORBIDDEN")
        return resolve(root, info, **arguments)

    _GUARDED[guarded] = resolve
    return guarded


def people_only_resolver(resolve: Resolver) -> Resolver | None:
    """What a guard passes people's calls on to; None when `resolve` is no guard."""
    return _GUARDED.get(resolve)


def guard_gateway_reads(schema: GraphQLSchema) -> None:
    """Wrap every field a gateway may not read; run once, when the schema is built."""
    for type_ in guarded_objects(schema):
        for name, field in type_.fields.items():
            if not gateway_may_read(type_.name, name):
                field.resolve = _people_only(field.resolve or default_field_resolver)
