"""What every GraphQL request goes through, as one Strawberry extension: the token
limit, the cost budget before execution, then masking of unexpected errors and the
audit trail after it. One extension rather than four: each extension's hooks cost
a little on every request, and the ingest hot path feels it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from strawberry.extensions import SchemaExtension

from . import audit
from .cost import charge
from .errors import mask_errors

MAX_TOKENS = 20_000


class RequestPolicy(SchemaExtension):
    cost: dict[str, Any] | None = None

    def on_operation(self) -> Iterator[None]:
        self.execution_context.parse_options["max_tokens"] = MAX_TOKENS
        yield

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        self.cost, refusal = charge(ec)
        if refusal is not None:
            raise refusal
        yield
        mask_errors(ec.result, ec.context)
        await audit.record(ec)

    def get_results(self) -> dict[str, Any]:
        return {"cost": self.cost} if self.cost is not None else {}
