"""Requests refused before any operation ran (UNAUTHENTICATED, THROTTLED, unsigned payment
callbacks), audited in sum.

A flood of refused requests must not become a flood of audit rows (nor a way to
grow the database from outside): refusals are counted per client address,
principal, code and minute, and each minute's count is appended as one audit
record (`operation` "requestRefused" or the endpoint's, `arguments` {"count",
"firstRequestId"})
once the minute is over, or when the server stops. The count of distinct keys a
minute can hold is capped; past it, refusals are folded into one key per code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .group_commit import GroupCommit
from .principals import Principal

OPERATION = "requestRefused"
MAX_KEYS_PER_MINUTE = 10_000
OVERFLOW_ADDRESS = "*"


@dataclass(frozen=True)
class _Key:
    minute: datetime
    client_address: str
    actor: str
    role: str
    account_id: int | None
    code: str
    operation: str


@dataclass
class _Tally:
    first_at: datetime
    first_request_id: str
    count: int = 0


@dataclass
class RefusalLog:
    group_commit: GroupCommit
    _tallies: dict[_Key, _Tally] = field(default_factory=dict)

    def note(
        self,
        principal: Principal,
        code: str,
        client_address: str,
        request_id: str,
        now: datetime,
        operation: str = OPERATION,
    ) -> None:
        minute = now.replace(second=0, microsecond=0)
        address = client_address
        if len(self._tallies) >= MAX_KEYS_PER_MINUTE:
            address = OVERFLOW_ADDRESS
        key = _Key(
            minute,
            address,
            principal.actor,
            principal.role.value,
            principal.account_id,
            code,
            operation,
        )
        tally = self._tallies.get(key)
        if tally is None:
            tally = self._tallies[key] = _Tally(now, request_id)
        tally.count += 1

    @property
    def pending(self) -> int:
        """Refusals counted and not yet written."""
        return sum(tally.count for tally in self._tallies.values())

    async def flush(self, now: datetime, *, everything: bool = False) -> int:
        """Append the records of the minutes that are over (all of them when the
        server stops); returns how many records were written."""
        done = [
            key for key in self._tallies if everything or key.minute + timedelta(minutes=1) <= now
        ]
        if not done:
            return 0
        rows = [_row(key, self._tallies.pop(key)) for key in done]
        await self.group_commit.record_audit(rows)
        return len(rows)


def _row(key: _Key, tally: _Tally) -> dict[str, object]:
    return {
        "occurred_at": tally.first_at,
        "principal": key.actor,
        "role": key.role,
        "account_id": key.account_id,
        "operation": key.operation,
        "arguments": json.dumps(
            {
                "count": tally.count,
                "firstRequestId": tally.first_request_id,
                "minute": str(key.minute),
            }
        ),
        "result": key.code,
        "request_id": tally.first_request_id,
        "client_address": key.client_address,
    }
