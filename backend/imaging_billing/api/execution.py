"""Running one GraphQL operation, and what every operation goes through.

Strawberry defines the schema (types, resolvers, scalars); graphql-core runs it.
Around execution, in order: the document parsed and measured (api/shape.py: length,
tokens, fragments, fields, depth and aliases, in linear time), then validated
(graphql-core's rules), once per distinct query text, as Strawberry's ParserCache and
ValidationCache do; the operation chosen (GET runs queries only); its cost charged to
the principal's budget (THROTTLED); after execution, unexpected errors masked and
mutations audited.
One plain function rather than Strawberry's view and extension hooks: on the
upload hot path those hooks cost more than recording the upload.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from inspect import isawaitable

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    execute,
    get_operation_ast,
    specified_rules,
)
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.schema.schema import validate_document

from . import answers, audit
from .answers import Answer, Answers
from .context import Context
from .cost import charge
from .errors import mask_errors
from .leaves import LeafExecutor
from .requests import GraphQLRequest, RequestRefused
from .shape import ShapeRefused, check_shape, parse_within_limits

# Documents longer than this are parsed every time instead of kept: the cache holds
# what clients send again and again, not whatever a caller can make it hold.
MAX_CACHED_QUERY = 16_384
RULES = tuple(specified_rules)
_JSON = json.JSONEncoder(separators=(",", ":"))


@dataclass(frozen=True)
class Prepared:
    """A query text, parsed and validated: the document, or why it cannot run."""

    document: DocumentNode | None
    errors: tuple[GraphQLError, ...] = ()
    reusable: bool = False  # only fields whose answers may be reused (api/answers.py)


@dataclass(frozen=True)
class Outcome:
    status: int
    payload: dict[str, object]  # the JSON answer (but its data, where `body` is given)
    operation: str | None = None  # its first root field, once the document is valid
    body: bytes | None = None  # the payload as JSON, where it is made from a kept answer


def root_field(operation: OperationDefinitionNode) -> str:
    """What names an operation in logs and metrics: a field of the schema (validated),
    never the client's operation name, so the set of names stays the schema's."""
    for selection in operation.selection_set.selections:
        if isinstance(selection, FieldNode):
            return selection.name.value
    return operation.operation.value


def in_language(error: Mapping[str, object], lang: str) -> dict[str, object]:
    """`message` in the request's language where the error carries both (a refusal cached
    per query text, or made before the language was known, holds the English one)."""
    extensions = error.get("extensions")
    key = "messageEn" if lang == "en" else "messageZh"
    wanted = extensions.get(key) if isinstance(extensions, Mapping) else None
    if isinstance(wanted, str) and wanted != error.get("message"):
        return {**error, "message": wanted}
    return dict(error)


def _answer(kept: Answer, extensions: dict[str, object], name: str) -> Outcome:
    """A kept answer, with this request's cost: its data is already JSON."""
    body = b'{"data":%b,"extensions":%b}' % (kept.encoded, _JSON.encode(extensions).encode())
    return Outcome(200, {"extensions": extensions}, name, body)


class Executor:
    def __init__(self, graphql_schema: GraphQLSchema, cache_size: int = 256) -> None:
        self.schema = graphql_schema
        audit.instrument(graphql_schema)
        self._cached = functools.lru_cache(maxsize=cache_size)(self._prepare)

    def prepare(self, query: str) -> Prepared:
        if len(query) > MAX_CACHED_QUERY:
            return self._prepare(query)
        return self._cached(query)

    def _prepare(self, query: str) -> Prepared:
        try:
            document = parse_within_limits(query)
            check_shape(document)
        except ShapeRefused as refused:
            return Prepared(None, (refused.as_graphql_error(),))
        except GraphQLError as error:
            return Prepared(None, (error,))
        errors = validate_document(self.schema, document, RULES)
        if errors:
            return Prepared(None, tuple(errors))
        return Prepared(document, reusable=answers.reusable(self.schema, document))

    async def run(self, request: GraphQLRequest, context: Context) -> Outcome:
        prepared = self.prepare(request.query)
        document = prepared.document
        if document is None:
            errors = [in_language(e.formatted, context.lang) for e in prepared.errors]
            return Outcome(200, {"data": None, "errors": errors})
        operation = get_operation_ast(document, request.operation_name)
        if operation is None:
            if request.operation_name is None:
                raise RequestRefused(400, "OPERATION_NAME_REQUIRED")
            raise RequestRefused(400, "OPERATION_UNKNOWN", name=request.operation_name)
        if operation.operation is OperationType.SUBSCRIPTION:
            raise RequestRefused(400, "SUBSCRIPTION_NEEDS_WEBSOCKET")
        if request.via_get and operation.operation is not OperationType.QUERY:
            raise RequestRefused(405, "GET_RUNS_QUERIES_ONLY", headers={"Allow": "POST"})

        name = root_field(operation)
        cost, refusal = await charge(context, document, operation, request.variables)
        extensions: dict[str, object] = {"cost": cost}
        if refusal is not None:
            context.services.refusals.note(
                context.principal,
                "THROTTLED",
                context.client_address,
                context.request_id,
                context.now(),
            )
            errors = [in_language(refusal.formatted, context.lang)]
            return Outcome(200, {"data": None, "errors": errors, "extensions": extensions}, name)

        key = None
        if prepared.reusable and operation.operation is OperationType.QUERY:
            key = Answers.key(
                request.query,
                request.operation_name,
                request.variables,
                context.principal,
                context.lang,
            )
        if key is not None and context.may_reuse:
            kept = await context.services.answers.find(key, context.reader, context.now())
            if kept is not None:
                return _answer(kept, extensions, name)
        result = execute(
            self.schema,
            document,
            context_value=context,
            variable_values=request.variables,
            operation_name=request.operation_name,
            is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
            executor_class=LeafExecutor,
        )
        if isawaitable(result):
            result = await result
        assert isinstance(result, ExecutionResult)
        mask_errors(result, context)
        if operation.operation is OperationType.MUTATION:
            await audit.record(context, self.schema, operation, request.variables, result)
        payload: dict[str, object] = {"data": result.data}
        if result.errors:
            payload["errors"] = [in_language(e.formatted, context.lang) for e in result.errors]
        elif key is not None:
            # Reused only from an instant after every resolver's `now` on.
            kept = context.services.answers.keep(key, result.data, context.steady, context.now())
            if kept is not None:  # already written out as JSON
                return _answer(kept, extensions, name)
        payload["extensions"] = extensions
        return Outcome(200, payload, name)
