"""Licences and services (R-LIC-1..5, R-SVC-1..4): the use cases that start and accept
services, and the reads of what institutions hold. Enabling licences and opening
services are steps of order fulfilment (`steps/entitlements.py`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain import entitlements as rules
from ..domain.catalog import AiProduct, Feature
from ..domain.errors import RuleViolation
from ..store import ai as ai_store
from ..store import entitlements as store
from ..store.db import Database
from ..store.records import LicenceRecord, ServiceContractRecord
from .principals import Principal
from .steps.entitlements import announce_service_change


async def start_service(
    db: Database, principal: Principal, *, service_id: int, now: datetime
) -> ServiceContractRecord:
    """An operator marks delivery or custom development as started (R-SVC-1/2)."""
    principal.require_operator()
    async with db.write() as conn:
        row = await store.lock_service(conn, service_id)
        if row is None:
            raise RuleViolation("SERVICE_NOT_FOUND", "serviceId")
        before = store.to_service(row).state(now)
        rules.check_start(store.to_service(row), now)
        await store.update_service(conn, service_id, started_at=now)
        return await _changed(conn, service_id, before, now)


async def confirm_service_acceptance(
    db: Database, principal: Principal, *, service_id: int, now: datetime
) -> ServiceContractRecord:
    """R-SVC-2: the account's administrator (or an operator for them) accepts the work."""
    async with db.write() as conn:
        row = await store.lock_service(conn, service_id)
        if row is None:
            raise RuleViolation("SERVICE_NOT_FOUND", "serviceId")
        principal.require_account_admin(row.account_id, missing="SERVICE_NOT_FOUND")
        before = store.to_service(row).state(now)
        rules.check_acceptance(store.to_service(row), now)
        await store.update_service(conn, service_id, accepted_at=now)
        return await _changed(conn, service_id, before, now)


async def _changed(
    conn: AsyncConnection, service_id: int, before: rules.ServiceState, now: datetime
) -> ServiceContractRecord:
    """The service after a transition, announced in the same transaction."""
    row = await _reload(conn, service_id)
    await announce_service_change(conn, row, before, now)
    return await _reload(conn, service_id)


async def _reload(conn: AsyncConnection, service_id: int) -> ServiceContractRecord:
    row = await store.get_service(conn, service_id)
    assert row is not None
    return row


# --- reads (inside the caller's read transaction) -------------------------------------


def service_state(row: ServiceContractRecord, now: datetime) -> rules.ServiceState:
    return store.to_service(row).state(now)


async def institution_licences(conn: AsyncConnection, institution_id: int) -> list[LicenceRecord]:
    """R-LIC-5: the institution's licences, in enabling order."""
    return await store.licences_of(conn, [institution_id])


async def visible_service(
    conn: AsyncConnection, principal: Principal, service_id: int
) -> ServiceContractRecord | None:
    """A service the principal may see; another account's looks like an unknown one."""
    row = await store.get_service(conn, service_id)
    if row is None or not principal.can_see_account(row.account_id):
        return None
    return row


async def page_services(
    conn: AsyncConnection,
    *,
    account_id: int | None = None,
    institution_id: int | None = None,
    after_id: int | None,
    limit: int,
    state: rules.ServiceState | None = None,
    now: datetime,
) -> tuple[list[ServiceContractRecord], int]:
    """A page of services (fetch `limit` = page size + 1) and the total matching."""
    rows = await store.page_services(
        conn,
        account_id=account_id,
        institution_id=institution_id,
        after_id=after_id,
        limit=limit,
        state=state,
        now=now,
    )
    total = await store.count_services(
        conn, account_id=account_id, institution_id=institution_id, state=state, now=now
    )
    return rows, total


@dataclass(frozen=True)
class Held:
    """What an institution holds for good: licensed features (R-LIC-4/5) and AI
    licences (R-AI-4)."""

    features: set[Feature] = field(default_factory=set)
    ai_products: set[AiProduct] = field(default_factory=set)


async def held_licences(conn: AsyncConnection, institution_ids: Iterable[int]) -> dict[int, Held]:
    """Every institution asked for has an entry (empty sets: nothing held)."""
    ids = set(institution_ids)
    held = {institution_id: Held() for institution_id in ids}
    for licence in await store.licences_of(conn, ids):
        held[licence.institution_id].features.add(Feature(licence.feature))
    for row in await ai_store.institutions_licences(conn, ids):
        held[row.institution_id].ai_products.add(AiProduct(row.product))
    return held
