"""The schema: per-domain Query/Mutation mixins composed."""

from __future__ import annotations

import importlib

import strawberry
from strawberry.schema.config import StrawberryConfig

from .access.mutations import AccessMutation
from .access.people import Invitation, OperatorToken, PeopleMutation, PeopleQuery
from .access.queries import AccessQuery
from .accounts.mutations import AccountMutation
from .ai import AiMutation
from .commerce.mutations import CommerceMutation
from .commerce.payee import PayeeMutation, PayeeQuery
from .commerce.queries import CommerceQuery
from .commerce.types import PriceEntry, cap_order_lines
from .entitlements import EntitlementMutation, EntitlementQuery
from .exams.ingest import IngestMutation
from .exams.mutations import ExamMutation
from .exams.queries import ExamQuery
from .exams.reconciliation import ReconciliationMutation, ReconciliationQuery
from .root import NODE_TYPES, RootQuery
from .scalars import SCALARS
from .scope import guard_gateway_reads
from .subscriptions import Subscription
from .webhooks.mutations import WebhookMutation
from .webhooks.queries import WebhookQuery


@strawberry.type
class Query(
    RootQuery,
    ExamQuery,
    ReconciliationQuery,
    CommerceQuery,
    EntitlementQuery,
    AccessQuery,
    PeopleQuery,
    PayeeQuery,
    WebhookQuery,
):
    pass


@strawberry.type
class Mutation(
    AccountMutation,
    ExamMutation,
    IngestMutation,
    ReconciliationMutation,
    CommerceMutation,
    AiMutation,
    EntitlementMutation,
    AccessMutation,
    PeopleMutation,
    PayeeMutation,
    WebhookMutation,
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
    subscription=Subscription,
    types=[*NODE_TYPES, PriceEntry, Invitation, OperatorToken],
    config=StrawberryConfig(
        auto_camel_case=True, scalar_map=SCALARS, disable_field_suggestions=True
    ),
)
# R-GEN-8: what a gateway may not read is refused on every path (api/scope.py).
guard_gateway_reads(schema._schema)  # noqa: SLF001 - graphql-core's schema
cap_order_lines(schema._schema)  # noqa: SLF001
