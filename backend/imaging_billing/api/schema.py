"""The schema: per-domain Query/Mutation mixins composed, with the request limits."""

from __future__ import annotations

import importlib

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from ..domain.errors import RuleViolation
from .access import AccessMutation, AccessQuery, AuditRecord, User
from .ai import AiLicence, AiMutation, AiPack, AiRead
from .commerce import CommerceQuery
from .commerce_fields import Order, PriceEntry
from .commerce_mutations import CommerceMutation
from .entitlements import EntitlementMutation, EntitlementQuery, Licence, ServiceContract
from .errors import root_cause
from .ingest import IngestMutation
from .mutations import OperatorMutation
from .policy import RequestPolicy
from .queries import LedgerQuery
from .scalars import SCALARS
from .types import Account, Agreement, Exam, ExamLot, Institution, LedgerEntry, Notice


@strawberry.type
class Query(LedgerQuery, CommerceQuery, EntitlementQuery, AccessQuery):
    pass


@strawberry.type
class Mutation(
    OperatorMutation,
    IngestMutation,
    CommerceMutation,
    AiMutation,
    EntitlementMutation,
    AccessMutation,
):
    pass


# Field suggestions are off in the config; graphql-core still suggests argument names,
# enum values and type names ("Did you mean …?"), which would map the schema for a
# caller who may not see it. No suggestions at all turns those off too (the package
# re-exports the function under the module's name, hence import_module).
importlib.import_module("graphql.pyutils.did_you_mean").MAX_LENGTH = 0  # type: ignore[attr-defined]


# Built once: ValidationCache keys on the rule classes, and a limiter built per request
# makes new classes every time, so every request would be validated from scratch.
LIMIT_RULES = [
    *QueryDepthLimiter(max_depth=10).validation_rules,
    *MaxAliasesLimiter(max_alias_count=30).validation_rules,
]


class BillingSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Refusals are expected answers, not incidents: log only the rest."""
        unexpected = [e for e in errors if not isinstance(root_cause(e), RuleViolation)]
        super().process_errors(unexpected, execution_context)


schema = BillingSchema(
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
    ],
    extensions=[
        RequestPolicy,
        lambda: AddValidationRules(LIMIT_RULES),
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
    ],
    config=StrawberryConfig(
        auto_camel_case=True, scalar_map=SCALARS, disable_field_suggestions=True
    ),
)
