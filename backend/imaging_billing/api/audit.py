"""The audit trail: every mutation (login attempts included) leaves a record.

Recorded after execution, whatever the outcome: who (principal, role), on which
account, which operation with which arguments (secrets redacted), the result (ok
or the error code), request id and client address. Records are committed through
the group-commit writer before the response leaves, so none is lost to a crash
that the caller could observe."""

from __future__ import annotations

import json
import logging
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values

from ..domain.errors import RuleViolation
from ..services.ingest_writer import PendingAudit
from ..services.principals import Principal
from ..store import accounts, exams, lots, orders
from ..store import entitlements as entitlement_store
from . import ids

log = logging.getLogger("imaging_billing.audit")
SECRET_WORDS = ("password", "token", "secret")
MAX_ARGUMENTS = 20_000

# Which account an operation concerns, found from the IDs it names.
_OWNERS: dict[str, tuple[str, Any]] = {
    "institutionId": ("Institution", accounts.get_institution),
    "examId": ("Exam", exams.get_exam),
    "lotId": ("ExamLot", lots.get_lot),
    "orderId": ("Order", orders.get_order),
    "serviceId": ("Service", entitlement_store.get_service),
}


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: "[redacted]" if any(w in k.lower() for w in SECRET_WORDS) else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def arguments_text(arguments: dict[str, Any]) -> str:
    """JSON of the redacted arguments; a summary when too long to keep whole."""
    text = json.dumps(redact(arguments), default=str)
    if len(text) <= MAX_ARGUMENTS:
        return text
    return json.dumps({"truncated": True, "length": len(text), "names": sorted(arguments)})


def _result(data: Any, key: str, failed: bool) -> str:
    payload = data.get(key) if isinstance(data, dict) else None
    if isinstance(payload, dict):
        errors = payload.get("userErrors") or []
        if errors and isinstance(errors[0], dict):
            return str(errors[0].get("code", "ERROR"))
        return "ok"
    return "ERROR" if failed else "ok"


async def record(
    context: Any,
    graphql_schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    variables: dict[str, Any],
    result: ExecutionResult,
) -> None:
    """Append the audit records of a mutation, after it ran, whatever its outcome."""
    if operation.operation is not OperationType.MUTATION:
        return
    principal: Principal = context.principal
    data = result.data
    failed = bool(result.errors)
    mutation_type = graphql_schema.mutation_type
    nodes = [
        node
        for node in operation.selection_set.selections
        if isinstance(node, FieldNode) and not _recorded(context, node)
    ]
    if not nodes or mutation_type is None:
        return
    coerced = get_variable_values(
        graphql_schema, operation.variable_definitions or (), dict(variables)
    )
    values = coerced if isinstance(coerced, VariableValues) else None
    rows = []
    for node in nodes:
        key = node.alias.value if node.alias else node.name.value
        name = node.name.value
        field = mutation_type.fields.get(name)
        try:
            arguments = get_argument_values(field, node, values) if field else {}
        except Exception:  # invalid input: what it was cannot be told safely
            arguments = {"invalidInput": True}
        rows.append(
            {
                "operation": name,
                "arguments": arguments_text(arguments),
                "result": _result(data, key, failed),
                "raw": arguments,
            }
        )
    try:
        await _commit(context, principal, rows)
    except Exception:  # the change itself is committed; never hide it from the caller
        log.exception("audit record not written, request %s", context.request_id)


def _recorded(context: Any, node: FieldNode) -> bool:
    """Committed by its use case in the same transaction as its change (see pending_audit)."""
    pending = context.audited.get(node.alias.value if node.alias else node.name.value)
    return pending is not None and bool(pending.queued)


async def account_of(context: Any, principal: Principal, arguments: dict[str, Any]) -> int | None:
    """The account an operation concerned: named, owning a named object, or the caller's."""
    if principal.account_id is not None:
        return principal.account_id  # people and gateways act on their own account only
    if "accountId" in arguments:
        try:
            return ids.decode(
                str(arguments["accountId"]), "Account", missing="ACCOUNT_NOT_FOUND", field=""
            )
        except RuleViolation:
            return principal.account_id
    for argument, (type_name, load) in _OWNERS.items():
        if argument not in arguments:
            continue
        try:
            pk = ids.decode(str(arguments[argument]), type_name, missing="NODE_NOT_FOUND", field="")
        except RuleViolation:
            break
        async with context.db.read() as conn:
            row = await load(conn, pk)
        if row is not None:
            return int(row.account_id)
        break
    return principal.account_id


async def _commit(context: Any, principal: Principal, entries: list[dict[str, Any]]) -> None:
    # A successful login is recorded under the person who logged in.
    who: Principal = getattr(context, "authenticated_as", None) or principal
    now = context.now()
    rows = [
        {
            "occurred_at": now,
            "principal": who.actor,
            "role": who.role.value,
            "account_id": await account_of(context, who, entry["raw"]),
            "operation": entry["operation"],
            "arguments": entry["arguments"],
            "result": entry["result"][:100],
            "request_id": context.request_id,
            "correlation_id": context.correlation_id,
            "client_address": context.client_address,
        }
        for entry in entries
    ]
    await context.services.writer.record_audit(rows)


def pending_audit(info: Any, arguments: dict[str, Any]) -> PendingAudit:
    """The audit record of the field being resolved, for a use case that commits it
    together with its change (the ingest hot path); AuditTrail then skips the field."""
    context = info.context
    principal: Principal = context.principal
    pending = PendingAudit(
        {
            "principal": principal.actor,
            "role": principal.role.value,
            "account_id": principal.account_id,
            "operation": info.field_name,
            "arguments": arguments_text(arguments),
            "request_id": context.request_id,
            "correlation_id": context.correlation_id,
            "client_address": context.client_address,
        }
    )
    context.audited[info.path.key] = pending
    return pending
