"""Query cost and a per-principal budget (a leaky bucket, as Shopify's Admin API does).

Each selected field costs 1; a connection's children count `first` times; a fragment
counts once per spread (costed once, however often it is spread). A request
whose cost exceeds what the bucket holds is refused before execution with THROTTLED;
every response carries `extensions.cost` so clients can pace themselves. Anonymous
callers have a bucket per client address (`bucket_key`). On SQLite (one process) buckets
live in the process; on PostgreSQL in the database (services/budgets.py), so every API
instance charges the same bucket.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)

from ..domain.errors import RuleViolation
from ..services.principals import Role

if TYPE_CHECKING:  # the context holds the budgets: a name only, no import cycle at runtime
    from .context import Context

# Sized for people: every query any console page sends, all together once a second for a
# minute (~2,000 points a second), is never refused; a client repeating the largest single
# request (MAX_SINGLE_QUERY) is refused within seconds (tests/api/test_browsing_budget.py).
CAPACITY = 10_000.0
RESTORE_PER_SECOND = 1_000.0
MAX_SINGLE_QUERY = 5_000
# Gateways report every exam as it arrives: a busy hospital sends hundreds a second,
# each costing a handful of points, so their buckets are larger and refill faster.
GATEWAY_CAPACITY = 50_000.0
GATEWAY_RESTORE_PER_SECOND = 10_000.0


@dataclass
class Bucket:
    available: float
    updated: float


@dataclass(frozen=True)
class Limits:
    capacity: float
    rate: float  # points restored per second


PEOPLE = Limits(CAPACITY, RESTORE_PER_SECOND)
GATEWAYS = Limits(GATEWAY_CAPACITY, GATEWAY_RESTORE_PER_SECOND)


class SharedStore(Protocol):
    async def charge(
        self, key: str, cost: float, capacity: float, rate: float
    ) -> tuple[bool, float]: ...


class Budgets:
    def __init__(
        self,
        scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        shared: SharedStore | None = None,
    ) -> None:
        # QUERY_BUDGET_SCALE: capacity and refill multiplied (a deployment's own sizing).
        self.scale = scale
        self._clock = clock
        self._buckets: dict[str, Bucket] = {}
        self.shared = shared  # set: the buckets are in the database, not here

    async def spend(self, key: str, cost: float, limits: Limits) -> tuple[bool, float]:
        """Charge `cost` to `key`'s bucket: (paid, what is left)."""
        if self.shared is None:
            return self.take(key, cost, limits)
        scaled = self.limits(limits)
        return await self.shared.charge(key, cost, scaled.capacity, scaled.rate)

    def limits(self, limits: Limits) -> Limits:
        return Limits(limits.capacity * self.scale, limits.rate * self.scale)

    def take(self, key: str, cost: float, limits: Limits) -> tuple[bool, float]:
        limits = self.limits(limits)
        now = self._clock()
        bucket = self._buckets.setdefault(key, Bucket(limits.capacity, now))
        restored = bucket.available + (now - bucket.updated) * limits.rate
        bucket.available = min(limits.capacity, restored)
        bucket.updated = now
        if cost > bucket.available:
            return False, bucket.available
        bucket.available -= cost
        return True, bucket.available


def query_cost(
    document: DocumentNode, operation: OperationDefinitionNode, variables: Mapping[str, object]
) -> int:
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return _Costing(fragments, variables).cost(operation.selection_set)


def _first(node: FieldNode, variables: Mapping[str, object]) -> int:
    for argument in node.arguments or ():
        if argument.name.value != "first":
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return max(1, int(value.value))
        if isinstance(value, VariableNode):
            given = variables.get(value.name.value)
            return max(1, given) if isinstance(given, int) else 1
    return 1


@dataclass
class _Costing:
    """Each fragment costed once, however often it is spread: linear in the document.
    A spread inside a cycle costs nothing (validation has refused cycles already)."""

    fragments: dict[str, FragmentDefinitionNode]
    variables: Mapping[str, object]
    costs: dict[str, int] = field(default_factory=dict)
    visiting: set[str] = field(default_factory=set)

    def cost(self, selection: SelectionSetNode | None) -> int:
        if selection is None:
            return 0
        total = 0
        for node in selection.selections:
            if isinstance(node, FieldNode):
                children = self.cost(node.selection_set)
                total += 1 + _first(node, self.variables) * children
            elif isinstance(node, InlineFragmentNode):
                total += self.cost(node.selection_set)
            elif isinstance(node, FragmentSpreadNode):
                total += self._fragment(node.name.value)
        return total

    def _fragment(self, name: str) -> int:
        if name in self.costs:
            return self.costs[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.visiting:
            return 0
        self.visiting.add(name)
        self.costs[name] = self.cost(fragment.selection_set)
        self.visiting.discard(name)
        return self.costs[name]


def bucket_key(context: Context) -> str:
    """Whose budget pays: a principal's own; anonymous callers' per client address, so
    one caller emptying its bucket does not throttle everyone else's logins."""
    principal = context.principal
    if principal.role is Role.ANONYMOUS:
        return f"anonymous@{context.client_address}"
    actor: str = principal.actor
    return actor


async def charge(
    context: Context,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, object],
) -> tuple[dict[str, object], GraphQLError | None]:
    """Take the operation's cost from its principal's bucket.

    Returns what `extensions.cost` shows, and the THROTTLED error when it cannot pay."""
    budgets: Budgets = context.services.budgets
    principal = context.principal
    base = GATEWAYS if principal.role is Role.INSTITUTION else PEOPLE
    limits = budgets.limits(base)  # as shown
    cost = query_cost(document, operation, variables)
    allowed, available = await budgets.spend(bucket_key(context), cost, base)
    shown = {
        "requestedQueryCost": cost,
        "throttleStatus": {
            "maximumAvailable": limits.capacity,
            "currentlyAvailable": round(available),
            "restoreRate": limits.rate,
        },
    }
    if allowed and cost <= MAX_SINGLE_QUERY:
        return shown, None
    rule = RuleViolation("THROTTLED")
    refusal = GraphQLError(
        rule.message_en,
        original_error=rule,
        extensions={
            "code": rule.code,
            "messageZh": rule.message_zh,
            "messageEn": rule.message_en,
            "cost": shown,
        },
    )
    return shown, refusal
