"""Per-request context: principal, clock, database and the shared services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import strawberry

from ..services.auth import Authenticator
from ..services.clock import Clock
from ..services.ingest_writer import IngestWriter
from ..services.principals import Principal
from ..store.db import Database


@dataclass
class Services:
    """What every request shares; built once by the app."""

    db: Database
    clock: Clock
    writer: IngestWriter
    auth: Authenticator


@dataclass
class Context:
    services: Services
    principal: Principal
    lang: str  # "zh-CN" or "en": the language of `message` in user errors
    request_id: str

    @property
    def db(self) -> Database:
        return self.services.db

    def now(self) -> datetime:
        return self.services.clock.now()


Info = strawberry.Info[Context, None]
