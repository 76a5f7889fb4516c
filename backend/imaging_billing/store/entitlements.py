"""Licence and service repository (R-LIC, R-SVC)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.catalog import ServiceKind
from ..domain.clock import local_date
from ..domain.entitlements import Service, ServiceState
from .commerce_tables import licence, service_contract
from .fetch import fetch_all, fetch_one
from .records import LicenceRecord, ServiceContractRecord

# --- licences -------------------------------------------------------------------------


async def insert_licence(conn: AsyncConnection, **values: object) -> int:
    stmt = licence.insert().values(**values).returning(licence.c.id)
    return int((await conn.execute(stmt)).scalar_one())


async def get_licence(conn: AsyncConnection, licence_id: int) -> LicenceRecord | None:
    return await fetch_one(
        conn, LicenceRecord, sa.select(licence).where(licence.c.id == licence_id)
    )


async def find_licence(
    conn: AsyncConnection, institution_id: int, feature: str
) -> LicenceRecord | None:
    stmt = sa.select(licence).where(
        licence.c.institution_id == institution_id, licence.c.feature == feature
    )
    return await fetch_one(conn, LicenceRecord, stmt)


async def licences_of(conn: AsyncConnection, institution_ids: Iterable[int]) -> list[LicenceRecord]:
    """Every licence of these institutions, by institution then enabling order."""
    ids = sorted(set(institution_ids))
    if not ids:
        return []
    stmt = (
        sa.select(licence)
        .where(licence.c.institution_id.in_(ids))
        .order_by(licence.c.institution_id, licence.c.id)
    )
    return await fetch_all(conn, LicenceRecord, stmt)


# --- services -------------------------------------------------------------------------


def to_service(row: ServiceContractRecord) -> Service:
    return Service(
        kind=ServiceKind(row.kind),
        purchased_at=row.purchased_at,
        use_by=row.use_by,
        starts_on=row.starts_on,
        ends_on=row.ends_on,
        started_at=row.started_at,
        accepted_at=row.accepted_at,
    )


async def insert_service(conn: AsyncConnection, **values: object) -> int:
    stmt = service_contract.insert().values(**values).returning(service_contract.c.id)
    return int((await conn.execute(stmt)).scalar_one())


async def get_service(conn: AsyncConnection, service_id: int) -> ServiceContractRecord | None:
    stmt = sa.select(service_contract).where(service_contract.c.id == service_id)
    return await fetch_one(conn, ServiceContractRecord, stmt)


async def lock_service(conn: AsyncConnection, service_id: int) -> ServiceContractRecord | None:
    """Serialise the transitions of one service (start, acceptance).

    PostgreSQL: a row lock held to commit, so two confirmations cannot both see
    IN_PROGRESS. SQLite: the IMMEDIATE write transaction already holds the lock.
    """
    stmt = sa.select(service_contract).where(service_contract.c.id == service_id).with_for_update()
    return await fetch_one(conn, ServiceContractRecord, stmt)


async def update_service(conn: AsyncConnection, service_id: int, **values: object) -> None:
    await conn.execute(
        service_contract.update().where(service_contract.c.id == service_id).values(**values)
    )


def _state_clause(state: ServiceState, now: datetime) -> sa.ColumnElement[bool]:
    """`state` as SQL at `now`: the same rules as domain.entitlements.service_state,
    so paging and counts agree with the state each row shows (a test checks both)."""
    c = service_contract.c
    today = local_date(now)
    maintenance = c.kind == ServiceKind.MAINTENANCE.value
    one_time = c.kind != ServiceKind.MAINTENANCE.value
    untouched = sa.and_(one_time, c.accepted_at.is_(None), c.started_at.is_(None))
    clauses: dict[ServiceState, sa.ColumnElement[bool]] = {
        ServiceState.ACCEPTED: sa.and_(one_time, c.accepted_at.is_not(None)),
        ServiceState.IN_PROGRESS: sa.and_(
            one_time, c.accepted_at.is_(None), c.started_at.is_not(None)
        ),
        ServiceState.EXPIRED: sa.and_(untouched, c.use_by <= now),
        ServiceState.PURCHASED: sa.and_(untouched, c.use_by > now),
        ServiceState.SCHEDULED: sa.and_(maintenance, c.starts_on > today),
        ServiceState.ACTIVE: sa.and_(maintenance, c.starts_on <= today, c.ends_on > today),
        ServiceState.ENDED: sa.and_(maintenance, c.ends_on <= today),
    }
    return clauses[state]


async def unannounced(
    conn: AsyncConnection, state: ServiceState, now: datetime
) -> list[ServiceContractRecord]:
    """Services in `state` at `now` whose last announced state is another, locked
    (rows another sweep holds are skipped on PostgreSQL; SQLite's write lock serialises)."""
    c = service_contract.c
    stmt = (
        sa.select(service_contract)
        .where(
            _state_clause(state, now),
            c.announced_state.is_not(None),
            c.announced_state != state.value,
        )
        .order_by(c.id)
        .with_for_update(skip_locked=True)
    )
    return await fetch_all(conn, ServiceContractRecord, stmt)


def _filtered(
    account_id: int | None,
    institution_id: int | None,
    state: ServiceState | None,
    now: datetime | None,
) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = []
    if account_id is not None:
        where.append(service_contract.c.account_id == account_id)
    if institution_id is not None:
        where.append(service_contract.c.institution_id == institution_id)
    if state is not None:
        assert now is not None, "a state is only defined at an instant"
        where.append(_state_clause(state, now))
    return where


async def page_services(
    conn: AsyncConnection,
    *,
    account_id: int | None = None,
    institution_id: int | None = None,
    after_id: int | None,
    limit: int,
    state: ServiceState | None = None,
    now: datetime | None = None,
) -> list[ServiceContractRecord]:
    """Services in purchase order (by id), optionally those in `state` at `now`."""
    where = _filtered(account_id, institution_id, state, now)
    if after_id is not None:
        where.append(service_contract.c.id > after_id)
    stmt = sa.select(service_contract).where(*where).order_by(service_contract.c.id).limit(limit)
    return await fetch_all(conn, ServiceContractRecord, stmt)


async def count_services(
    conn: AsyncConnection,
    *,
    account_id: int | None = None,
    institution_id: int | None = None,
    state: ServiceState | None = None,
    now: datetime | None = None,
) -> int:
    where = _filtered(account_id, institution_id, state, now)
    stmt = sa.select(sa.func.count()).select_from(service_contract).where(*where)
    return int((await conn.execute(stmt)).scalar_one())
