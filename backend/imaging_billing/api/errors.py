"""Expected failures as data (typed user errors) and the masking of everything else."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Sequence
from typing import TypeVar

import strawberry
from graphql import ExecutionResult, GraphQLError

from ..domain.errors import RuleViolation
from .context import Context

log = logging.getLogger("imaging_billing.api")
T = TypeVar("T")


@strawberry.type(description="A refusal: `code` is the rule of domain.md it enforces.")
class UserError:
    code: str
    field: str | None
    message: str = strawberry.field(description="In the request's language (Accept-Language).")
    message_zh: str
    message_en: str

    @classmethod
    def of(cls, error: RuleViolation, lang: str) -> UserError:
        return cls(
            code=error.code,
            field=error.field,
            message=error.message_en if lang == "en" else error.message_zh,
            message_zh=error.message_zh,
            message_en=error.message_en,
        )


def mask_errors(result: ExecutionResult, context: Context) -> None:
    """Unexpected exceptions reach the client as 'Unexpected error' with the request id
    (the stack trace goes to the log under the same id); a rule broken below the
    resolver keeps its code and messages."""
    if not result.errors:
        return
    result.errors = masked(result.errors, context.request_id, context.lang)


def masked(errors: Sequence[GraphQLError], request_id: str, lang: str) -> list[GraphQLError]:
    """`mask_errors` for errors of any result (a subscription's pushes, api/live.py)."""
    return [_masked(e, request_id, lang) for e in errors]


def _masked(error: GraphQLError, request_id: str, lang: str) -> GraphQLError:
    original = root_cause(error)
    if original is None or isinstance(original, GraphQLError):
        return error
    if isinstance(original, RuleViolation):
        return GraphQLError(
            original.message_en if lang == "en" else original.message_zh,
            nodes=error.nodes,
            path=error.path,
            extensions={
                "code": original.code,
                "field": original.field,
                "messageZh": original.message_zh,
                "messageEn": original.message_en,
            },
        )
    log.error("unexpected error, request %s", request_id, exc_info=original)
    return GraphQLError(
        f"Unexpected error (request id {request_id})",
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "INTERNAL", "requestId": request_id},
    )


def root_cause(error: GraphQLError) -> BaseException | None:
    """graphql-core wraps a scalar's refusal in one GraphQLError per level (variable,
    value): the rule broken is at the bottom."""
    cause: BaseException | None = error.original_error
    while isinstance(cause, GraphQLError) and cause.original_error is not None:
        cause = cause.original_error
    return cause


def language(accept_language: str | None) -> str:
    """zh-CN unless the client prefers English."""
    if accept_language and accept_language.strip().lower().startswith("en"):
        return "en"
    return "zh-CN"


async def attempt(lang: str, work: Awaitable[T]) -> tuple[T | None, list[UserError]]:
    """Run a use case; an expected refusal becomes the payload's `userErrors`."""
    try:
        return await work, []
    except RuleViolation as error:
        return None, [UserError.of(error, lang)]
