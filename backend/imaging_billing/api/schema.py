"""The schema: per-domain Query/Mutation mixins composed."""

from __future__ import annotations

import importlib

import strawberry
from strawberry.schema.config import StrawberryConfig

from .access import AccessMutation, AccessQuery, AuditRecord, User
from .ai import AiLicence, AiMutation, AiPack, AiRead
from .commerce import CommerceQuery
from .commerce_fields import Order, PriceEntry, cap_order_lines
from .commerce_mutations import CommerceMutation
from .entitlements import EntitlementMutation, EntitlementQuery, Licence, ServiceContract
from .ingest import IngestMutation
from .mutations import OperatorMutation
from .payee import PayeeMutation, PayeeQuery
from .people import Invitation, OperatorToken, PeopleMutation, PeopleQuery
from .queries import LedgerQuery
from .scalars import SCALARS
from .scope import guard_gateway_reads
from .types import Account, Agreement, Exam, ExamLot, Institution, LedgerEntry, Notice


@strawberry.type
class Query(LedgerQuery, CommerceQuery, EntitlementQuery, AccessQuery, PeopleQuery, PayeeQuery):
    pass


@strawberry.type
class Mutation(
    OperatorMutation,
    IngestMutation,
    CommerceMutation,
    AiMutation,
    EntitlementMutation,
    AccessMutation,
    PeopleMutation,
    PayeeMutation,
):
    pass


# Field suggestions are off in the config; graphql-core still suggests argument names,
# enum values and type names ("Did you mean …?"), which would map the schema for a
# caller who may not see it. No suggestions at all turns those off too (the package
# re-exports the function under the module's name, hence import_module).
importlib.import_module("graphql.pyutils.did_you_mean").MAX_LENGTH = 0  # type: ignore[attr-defined]


# Strawberry defines the schema; requests run through api/execution.py.
schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    types=[
        Account,
        Agreement,
        Exam,
        ExamLot,
        Institution,
        LedgerEntry,
        Notice,
        Order,
        PriceEntry,
        AiPack,
        AiLicence,
        AiRead,
        Licence,
        ServiceContract,
        User,
        AuditRecord,
        Invitation,
        OperatorToken,
    ],
    config=StrawberryConfig(
        auto_camel_case=True, scalar_map=SCALARS, disable_field_suggestions=True
    ),
)
# R-GEN-8: what a gateway may not read is refused on every path (api/scope.py).
guard_gateway_reads(schema._schema)  # noqa: SLF001 - graphql-core's schema
cap_order_lines(schema._schema)  # noqa: SLF001
