"""Answers reused while what they rest on stands: the account overview, asked again.

The console's overview is asked by every open console, on every visit and refresh,
and computing it runs a dozen reads and several hundred fields. Its answer depends
on three things only: the account's data, the principal asking, and the clock. So a
query made only of fields listed in `REUSABLE` is answered from its last answer
while:
- the account has the revision it had (`store/accounts.lock_account`: every write
  transaction that changes an account moves it on; one short read per request checks
  it, so another instance's or another process's commit is seen at once);
- the clock has not reached the first instant at which any figure of it would read
  otherwise (domain/steady.py: an expiry, the suspension, midnight, the forecast's
  turn), which the resolvers note as they compute (`Steadiness.holds_until`);
- it is asked by the same principal, in the same language, with the same text and
  variables. `Cache-Control: no-cache` on the request computes it afresh.
The budget is charged as for any answer: reuse is the server's saving, not the
caller's. Any error in the answer, or a field outside `REUSABLE`, and nothing is kept.
A field joins `REUSABLE` only if every write that changes it locks its account, and
its resolver notes when the clock changes it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from cachetools import LRUCache
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLSchema,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    visit,
)
from graphql.language.visitor import BREAK

from .. import metrics
from ..services.principals import Principal
from ..services.queries import accounts as account_reads
from ..services.reader import Reader

REUSABLE: Mapping[str, frozenset[str]] = {
    "Query": frozenset({"account"}),
    "Account": frozenset(
        {
            "id",
            "name",
            "createdAt",
            "status",
            "arrearsSince",
            "suspendsAt",
            "lowBalanceThreshold",
            "examFigures",
            "aiFigures",
            "dailyUsage",
            "runOut",
            "agreement",
            "lots",
        }
    ),
    "ExamFigures": frozenset({"available", "used", "arrears", "expired", "bought"}),
    "AiFigures": frozenset(
        {
            "product",
            "remaining",
            "bought",
            "used",
            "expired",
            "licensedInstitutions",
            "licenceReads",
        }
    ),
    "DailyUsage": frozenset({"day", "exams"}),
    # Not `at`: counted from now, it moves with the clock itself.
    "RunOutEstimate": frozenset(
        {"averageDaily", "reason", "daysLeft", "on", "projectedForfeitTotal", "lots"}
    ),
    "LotForecast": frozenset({"lotId", "expiresAt", "projectedForfeit"}),
    "Agreement": frozenset({"id", "number", "signedOn", "channelPartner", "recordedAt"}),
    "ExamLotConnection": frozenset({"edges", "pageInfo", "totalCount"}),
    "ExamLotEdge": frozenset({"cursor", "node"}),
    "PageInfo": frozenset({"hasNextPage", "endCursor"}),
    "ExamLot": frozenset(
        {
            "id",
            "mode",
            "quantity",
            "used",
            "storageYears",
            "purchasedAt",
            "expiresAt",
            "contractRef",
            "expired",
            "remaining",
            "forfeited",
        }
    ),
}
MAX_ANSWERS = 512  # per process; the overview's answer is ~30 KB of JSON
MAX_KEPT_BYTES = 262_144  # a larger answer is computed every time
MAX_VARIABLES = 2_048  # characters of JSON: longer variables are not worth a key


def reusable(schema: GraphQLSchema, document: DocumentNode) -> bool:
    """Every field the document names is in REUSABLE (or is `__typename`)."""
    info = TypeInfo(schema)
    found = _Fields(info)
    visit(document, TypeInfoVisitor(info, found))
    return found.all_reusable


class _Fields(Visitor):
    def __init__(self, info: TypeInfo) -> None:
        super().__init__()
        self.info = info
        self.all_reusable = True

    def enter_field(self, node: FieldNode, *_args: object) -> object:
        name = node.name.value
        parent = self.info.get_parent_type()
        if name == "__typename":
            return None
        if parent is None or name not in REUSABLE.get(parent.name, frozenset()):
            self.all_reusable = False
            return BREAK
        return None


@dataclass
class Steadiness:
    """What the answer being computed rests on: account revisions, and the first
    instant at which the clock alone would change it (None: never)."""

    revisions: dict[int, int] = field(default_factory=dict)
    until: datetime | None = None

    def rests_on(self, account_id: int, revision: int) -> None:
        self.revisions[account_id] = revision

    def holds_until(self, moment: datetime | None) -> None:
        if moment is not None and (self.until is None or moment < self.until):
            self.until = moment


Key = tuple[str, str | None, str, Principal, str]


# As api/http.py writes answers: the kept data is written out once, not per reuse.
_JSON = json.JSONEncoder(separators=(",", ":"))


@dataclass(frozen=True)
class Answer:
    encoded: bytes  # the answer's `data` as JSON (kept small: a tenth of the objects)
    revisions: dict[int, int]
    computed_at: datetime
    until: datetime | None

    def holds_at(self, now: datetime) -> bool:
        return self.computed_at <= now and (self.until is None or now < self.until)


class Answers:
    """The last answers to reusable queries, per key; LRU-bounded."""

    def __init__(self, size: int = MAX_ANSWERS) -> None:
        self._kept: LRUCache[Key, Answer] = LRUCache(maxsize=size)
        self.reused = 0  # answers given again, since start
        self._reused = metrics.ANSWERS.labels("reused")
        self._computed = metrics.ANSWERS.labels("computed")

    @staticmethod
    def key(
        query: str,
        operation_name: str | None,
        variables: Mapping[str, object],
        principal: Principal,
        lang: str,
    ) -> Key | None:
        text = json.dumps(variables, sort_keys=True, separators=(",", ":"))
        if len(text) > MAX_VARIABLES:
            return None
        return (query, operation_name, text, principal, lang)

    async def find(self, key: Key, reader: Reader, now: datetime) -> Answer | None:
        """The kept answer if it still holds at `now`; one read when the clock lets it."""
        answer = self._kept.get(key)
        if answer is None or not answer.holds_at(now):
            return None
        current = await account_reads.revisions(reader, list(answer.revisions))
        if current != answer.revisions:
            return None
        self.reused += 1
        self._reused.inc()
        return answer

    def keep(
        self, key: Key, data: object, steady: Steadiness, computed_at: datetime
    ) -> Answer | None:
        """Keep a computed answer where it may be reused; the kept answer, or None."""
        self._computed.inc()
        if not steady.revisions:  # nothing to check it against: not kept
            return None
        encoded = _JSON.encode(data).encode()
        answer = Answer(encoded, dict(steady.revisions), computed_at, steady.until)
        if answer.holds_at(computed_at) and len(encoded) <= MAX_KEPT_BYTES:
            self._kept[key] = answer
            return answer
        self._kept.pop(key, None)
        return None

    def __len__(self) -> int:
        return len(self._kept)
