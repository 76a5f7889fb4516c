"""Per-request context: principal, clock, database and the shared services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import strawberry
from graphql import GraphQLResolveInfo
from starlette.responses import Response

from ..security import KeyBox
from ..services.auth import Authenticator
from ..services.clock import Clock
from ..services.group_commit import GroupCommit, PendingAudit
from ..services.live import AccountChanges
from ..services.principals import Principal
from ..services.reader import Database, Reader
from ..services.refusals import RefusalLog
from ..services.webhooks import UrlPolicy
from .answers import Answers, Steadiness
from .cost import Budgets
from .loaders import Loaders
from .session_sockets import SessionSockets

SESSION_COOKIE = "ib_session"


@dataclass
class Services:
    """What every request shares; built once by the app."""

    db: Database
    clock: Clock
    group_commit: GroupCommit  # upload requests and audit records, committed in groups
    auth: Authenticator
    keys: KeyBox  # seals institution signing keys (the server secret, never in the database)
    budgets: Budgets = field(default_factory=lambda: Budgets())
    secure_cookies: bool = False  # set behind HTTPS
    webhook_policy: UrlPolicy = field(default_factory=UrlPolicy)  # where endpoints may point
    refusals: RefusalLog = field(init=False)
    changes: AccountChanges = field(init=False)  # the live console's followers (api/live.py)
    answers: Answers = field(default_factory=Answers)  # reusable answers (api/answers.py)
    # This process's live sockets by session: `logout` closes them at once (api/live.py).
    session_sockets: SessionSockets = field(default_factory=SessionSockets)

    def __post_init__(self) -> None:
        self.refusals = RefusalLog(self.group_commit)
        self.changes = AccountChanges()
        self.db.on_commit = self.changes.committed


@dataclass
class Context:
    services: Services
    principal: Principal
    lang: str  # "zh-CN" or "en": the language of `message` in user errors
    request_id: str  # the server's own, always
    correlation_id: str | None = None  # the client's X-Request-Id, sanitised
    client_address: str = "-"
    # What login and logout set on the HTTP answer (the session cookie).
    response: Response = field(default_factory=Response)
    session_token: str | None = None
    authenticated_as: Principal | None = None  # set by a successful login
    # Response key -> audit record a use case committed with its change (api/audit.py).
    audited: dict[str, PendingAudit] = field(default_factory=dict)
    # Response key -> the outcome its root mutation resolver produced (api/audit.py).
    outcomes: dict[str, str] = field(default_factory=dict)
    # False when the request says `Cache-Control: no-cache`: computed afresh.
    may_reuse: bool = True
    # What this request's answer rests on, noted by the resolvers (api/answers.py).
    steady: Steadiness = field(default_factory=Steadiness)
    # The request's reads: one snapshot (services/reader.py) and its DataLoaders.
    reader: Reader = field(init=False)
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.reader = Reader(self.services.db, self.principal)
        self.loaders = Loaders(self.reader, self.now)

    async def after_write(self) -> None:
        """A mutation changed data: what is read next sees the change, not the snapshot
        and loader caches from before it."""
        await self.reader.renew()
        self.loaders = Loaders(self.reader, self.now)

    @property
    def db(self) -> Database:
        return self.services.db

    def now(self) -> datetime:
        return self.services.clock.now()


Info = strawberry.Info[Context, None]

# What graphql-core hands the resolvers it runs, and a resolver as it calls one: the
# schema-wide wrappers (audit, R-GEN-8 guard, line cap) take and give these.
ResolveInfo = GraphQLResolveInfo[Context]
Resolver = Callable[..., object]
