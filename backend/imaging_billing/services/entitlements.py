"""Licences and services (R-LIC-1..5, R-SVC-1..4).

`held_features`, `enable_licence` and `open_service` run inside the caller's
transaction (order fulfilment credits everything a payment bought in the payment's
own transaction, R-GEN-4), so they never open or commit one. `start_service` and
`confirm_service_acceptance` are use cases with their own transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain import entitlements as rules
from ..domain.catalog import Feature, ServiceKind, ServiceVariant
from ..domain.errors import RuleViolation
from ..domain.identity import public_id
from ..store import accounts
from ..store import entitlements as store
from ..store.db import Database
from ..store.records import InstitutionRecord, LicenceRecord, ServiceContractRecord
from .principals import Principal

# --- inside the caller's transaction ---------------------------------------------------


async def held_features(
    conn: AsyncConnection, institution_ids: Iterable[int]
) -> dict[int, set[Feature]]:
    """R-LIC-4/5: the features each institution holds; every id asked for has an entry."""
    ids = set(institution_ids)
    held: dict[int, set[Feature]] = {institution_id: set() for institution_id in ids}
    for row in await store.licences_of(conn, ids):
        held[row.institution_id].add(Feature(row.feature))
    return held


async def enable_licence(
    conn: AsyncConnection,
    *,
    account_id: int,
    institution_id: int,
    feature: Feature,
    now: datetime,
    order_id: int | None,
) -> int:
    """R-LIC-1/4: enable one perpetual licence; a licence already held is refused.

    The base-suite requirement is the order's check (`domain.orders.check_licences`):
    it may be met by a later line of the same order, which fulfilment enables after.
    """
    await _own_institution(conn, account_id, institution_id)
    if await store.find_licence(conn, institution_id, feature.value) is not None:
        raise RuleViolation("R_LIC_4_ALREADY_HELD", "feature")
    return await store.insert_licence(
        conn,
        account_id=account_id,
        institution_id=institution_id,
        feature=feature.value,
        enabled_at=now,
        order_id=order_id,
    )


async def open_service(
    conn: AsyncConnection,
    *,
    account_id: int,
    institution_id: int | None,
    institution_name: str | None,
    kind: ServiceKind,
    variant: ServiceVariant | None,
    years: int | None,
    starts_on: date | None,
    now: datetime,
    order_id: int | None,
) -> int:
    """R-SVC-1..4: one purchased service, for an institution on the platform or not yet.

    An institution on the platform is named by its current name unless the order kept
    one; one not yet on the platform is named by the order only.
    """
    name = (institution_name or "").strip()
    if institution_id is not None:
        row = await _own_institution(conn, account_id, institution_id)
        name = name or row.name
    shown = public_id("Institution", institution_id) if institution_id is not None else None
    remark = rules.service_remark(name, shown)
    terms = rules.service_terms(kind, years=years, starts_on=starts_on, purchased_at=now)
    return await store.insert_service(
        conn,
        account_id=account_id,
        institution_id=institution_id,
        institution_name=name,
        kind=kind.value,
        variant=variant.value if variant is not None else None,
        remark=remark,
        years=terms.years,
        purchased_at=now,
        use_by=terms.use_by,
        starts_on=terms.starts_on,
        ends_on=terms.ends_on,
        order_id=order_id,
    )


async def _own_institution(
    conn: AsyncConnection, account_id: int, institution_id: int
) -> InstitutionRecord:
    # Entitlements are per institution (R-LIC-1, R-SVC-1) and belong to the paying account.
    row = await accounts.get_institution(conn, institution_id)
    if row is None or row.account_id != account_id:
        raise RuleViolation("INSTITUTION_NOT_FOUND", "institutionId")
    return row


# --- use cases with their own transaction ---------------------------------------------


async def start_service(
    db: Database, principal: Principal, *, service_id: int, now: datetime
) -> ServiceContractRecord:
    """An operator marks delivery or custom development as started (R-SVC-1/2)."""
    principal.require_operator()
    async with db.write() as conn:
        row = await store.lock_service(conn, service_id)
        if row is None:
            raise RuleViolation("SERVICE_NOT_FOUND", "serviceId")
        rules.check_start(store.to_service(row), now)
        await store.update_service(conn, service_id, started_at=now)
        return await _reload(conn, service_id)


async def confirm_service_acceptance(
    db: Database, principal: Principal, *, service_id: int, now: datetime
) -> ServiceContractRecord:
    """R-SVC-2: the account's administrator (or an operator for them) accepts the work."""
    async with db.write() as conn:
        row = await store.lock_service(conn, service_id)
        if row is None:
            raise RuleViolation("SERVICE_NOT_FOUND", "serviceId")
        principal.require_account_admin(row.account_id, missing="SERVICE_NOT_FOUND")
        rules.check_acceptance(store.to_service(row), now)
        await store.update_service(conn, service_id, accepted_at=now)
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
