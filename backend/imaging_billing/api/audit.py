"""The audit trail: every mutation (login attempts included) leaves a record.

Recorded after execution, whatever the outcome: who (principal, role), on which
account, which operation with which arguments (secrets redacted), the result (ok
or the error code), request id and client address. Records are committed through
the group-commit writer before the response leaves, so none is lost to a crash
that the caller could observe.

The result is what the resolver produced, noted as it returned (`instrument`):
never read back from the response, whose shape the client chooses (a login
that selects no `userErrors` still failed)."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Mapping
from inspect import isawaitable
from typing import TypedDict

from graphql import (
    ExecutionResult,
    FieldNode,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values

from ..domain.errors import RuleViolation
from ..services.ingest import PendingAudit
from ..services.principals import Principal
from ..services.queries import nodes as node_reads
from . import ids
from .context import Context, Info, ResolveInfo, Resolver

log = logging.getLogger("imaging_billing.audit")
SECRET_WORDS = ("password", "token", "secret")
MAX_ARGUMENTS = 20_000

# Which account an operation concerns, found from the IDs it names.
_OWNERS: dict[str, str] = {
    "institutionId": "Institution",
    "examId": "Exam",
    "lotId": "ExamLot",
    "orderId": "Order",
    "serviceId": "Service",
    "userId": "User",
    "invitationId": "Invitation",
}


def redact(value: object) -> object:
    if isinstance(value, dict):
        return {
            k: "[redacted]" if any(w in k.lower() for w in SECRET_WORDS) else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def arguments_text(arguments: Mapping[str, object]) -> str:
    """JSON of the redacted arguments; a summary when too long to keep whole."""
    text = json.dumps(redact(arguments), default=str)
    if len(text) <= MAX_ARGUMENTS:
        return text
    return json.dumps({"truncated": True, "length": len(text), "names": sorted(arguments)})


def outcome_of(payload: object) -> str:
    """A mutation payload's outcome: its first user error's code, else ok."""
    errors = getattr(payload, "user_errors", None)
    if errors:
        return str(getattr(errors[0], "code", "ERROR"))
    return "ok"


def _raised(error: BaseException) -> str:
    return error.code if isinstance(error, RuleViolation) else "ERROR"


def _noting(resolve: Resolver) -> Resolver:
    async def settle(pending: Awaitable[object], context: Context, key: str) -> object:
        try:
            payload = await pending
        except Exception as error:
            context.outcomes[key] = _raised(error)
            raise
        finally:
            await context.after_write()  # its payload reads what it wrote
        context.outcomes[key] = outcome_of(payload)
        return payload

    def noted(root: object, info: ResolveInfo, **arguments: object) -> object:
        outcomes = info.context.outcomes
        key = str(info.path.key)
        try:
            payload = resolve(root, info, **arguments)
        except Exception as error:
            outcomes[key] = _raised(error)
            raise
        if isawaitable(payload):
            return settle(payload, info.context, key)
        outcomes[key] = outcome_of(payload)
        return payload

    noted.audit_noted = True  # type: ignore[attr-defined]
    return noted


def instrument(graphql_schema: GraphQLSchema) -> None:
    """Wrap each root mutation resolver so it notes its outcome in the context, and
    so the fields of its payload read after its write (Context.after_write).

    Only the root fields are wrapped: nothing else on the hot path pays for it.
    Idempotent, as every app built in one process shares the schema."""
    mutation_type = graphql_schema.mutation_type
    if mutation_type is None:
        return
    for field in mutation_type.fields.values():
        if field.resolve is not None and not getattr(field.resolve, "audit_noted", False):
            field.resolve = _noting(field.resolve)


def _result(context: Context, key: str, failed: set[str] | None) -> str:
    """The noted outcome; a field whose resolver never ran failed before it
    (its arguments), or the whole request did (`failed` is None)."""
    noted: str | None = context.outcomes.get(key)
    if noted is not None:
        return noted
    return "ERROR" if failed is None or key in failed else "ok"


def _failed_keys(result: ExecutionResult) -> set[str] | None:
    keys: set[str] = set()
    for error in result.errors or ():
        if not error.path:
            return None
        keys.add(str(error.path[0]))
    return keys


class _Entry(TypedDict):
    operation: str
    arguments: str  # redacted, as kept
    result: str
    raw: dict[str, object]  # as given: which account it concerned is found from it


async def record(
    context: Context,
    graphql_schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    variables: Mapping[str, object],
    result: ExecutionResult,
) -> None:
    """Append the audit records of a mutation, after it ran, whatever its outcome."""
    if operation.operation is not OperationType.MUTATION:
        return
    principal = context.principal
    failed = _failed_keys(result)
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
    rows: list[_Entry] = []
    for node in nodes:
        key = node.alias.value if node.alias else node.name.value
        name = node.name.value
        field = mutation_type.fields.get(name)
        arguments: dict[str, object]
        try:
            arguments = get_argument_values(field, node, values) if field else {}
        except Exception:  # invalid input: what it was cannot be told safely
            arguments = {"invalidInput": True}
        rows.append(
            _Entry(
                operation=name,
                arguments=arguments_text(arguments),
                result=_result(context, key, failed),
                raw=arguments,
            )
        )
    try:
        await _commit(context, principal, rows)
    except Exception:  # the change itself is committed; never hide it from the caller
        log.exception("audit record not written, request %s", context.request_id)


def _recorded(context: Context, node: FieldNode) -> bool:
    """Committed by its use case in the same transaction as its change (see pending_audit)."""
    return (node.alias.value if node.alias else node.name.value) in context.audited


async def account_of(
    context: Context, principal: Principal, arguments: Mapping[str, object]
) -> int | None:
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
    for argument, type_name in _OWNERS.items():
        if argument not in arguments:
            continue
        try:
            pk = ids.decode(str(arguments[argument]), type_name, missing="NODE_NOT_FOUND", field="")
        except RuleViolation:
            break
        owner = await node_reads.owning_account(context.db, type_name, pk)
        if owner is not None:  # operators' own objects belong to no account
            return owner
        break
    return principal.account_id


async def _commit(context: Context, principal: Principal, entries: list[_Entry]) -> None:
    # A successful login is recorded under the person who logged in.
    who = context.authenticated_as or principal
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
    await context.services.group_commit.record_audit(rows)


def pending_audit(info: Info, arguments: Mapping[str, object]) -> PendingAudit:
    """The audit record of the field being resolved, for a use case that commits it
    together with its change (the ingest hot path). It stays the resolver's until the
    use case answers that it committed it (`committed_by_use_case`)."""
    context = info.context
    principal = context.principal
    return PendingAudit(
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


def committed_by_use_case(info: Info, pending: PendingAudit) -> None:
    """The use case committed the field's audit record with its change: `record`
    must not write it again."""
    info.context.audited[str(info.path.key)] = pending
