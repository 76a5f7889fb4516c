"""Licence and service steps (R-LIC-1/4, R-SVC-1..4), inside the caller's transaction:
order fulfilment credits everything a payment bought in the payment's own (R-GEN-4)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ...domain import entitlements as rules
from ...domain.catalog import Feature, ServiceKind, ServiceVariant
from ...domain.errors import RuleViolation
from ...domain.identity import public_id
from ...domain.webhooks import EventType
from ...store import accounts
from ...store import entitlements as store
from ...store.records import InstitutionRecord, ServiceContractRecord
from .outbox import record_event
from .snapshot import global_id


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
    licence_id = await store.insert_licence(
        conn,
        account_id=account_id,
        institution_id=institution_id,
        feature=feature.value,
        enabled_at=now,
        order_id=order_id,
    )
    data = licence_data("Licence", licence_id, institution_id, order_id, now)
    data["feature"] = feature.value
    await record_event(conn, EventType.LICENCE_GRANTED, f"lic_{licence_id}", account_id, data, now)
    return licence_id


def licence_data(
    type_name: str, licence_id: int, institution_id: int, order_id: int | None, now: datetime
) -> dict[str, object]:
    """The fields every `licence.granted` event carries (R-LIC-1, R-AI-4)."""
    return {
        "licenceId": global_id(type_name, licence_id),
        "licenceType": type_name,
        "institutionId": global_id("Institution", institution_id),
        "orderId": None if order_id is None else global_id("Order", order_id),
        "grantedAt": now.isoformat(),
    }


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
        announced_state=rules.service_state(_as_bought(kind, terms, now), now).value,
    )


def _as_bought(kind: ServiceKind, terms: rules.ServiceTerms, now: datetime) -> rules.Service:
    return rules.Service(kind, now, terms.use_by, terms.starts_on, terms.ends_on, None, None)


# States that time alone brings (R-SVC-1/3); the sweep announces them.
TIME_DRIVEN = (rules.ServiceState.EXPIRED, rules.ServiceState.ACTIVE, rules.ServiceState.ENDED)


async def announce_service_change(
    conn: AsyncConnection,
    row: ServiceContractRecord,
    before: rules.ServiceState | None,
    now: datetime,
) -> None:
    """`service.state_changed` for the service's state at `now`, in the transaction of
    the change; once per service and state (the event key)."""
    after = store.to_service(row).state(now)
    institution = row.institution_id
    data: dict[str, object] = {
        "serviceId": global_id("Service", row.id),
        "kind": row.kind,
        "variant": row.variant,
        "institutionId": None if institution is None else global_id("Institution", institution),
        "institutionName": row.institution_name,
        "from": None if before is None else before.value,
        "to": after.value,
        "changedAt": now.isoformat(),
    }
    key = f"svc_{row.id}_{after.value.lower()}"
    await record_event(conn, EventType.SERVICE_STATE_CHANGED, key, row.account_id, data, now)
    await store.update_service(conn, row.id, announced_state=after.value)


async def announce_time_transitions(conn: AsyncConnection, now: datetime) -> int:
    """The sweep's part: services whose state time alone changed since it was last
    announced (a purchase unused for a year, maintenance starting or ending)."""
    told = 0
    for state in TIME_DRIVEN:
        for row in await store.unannounced(conn, state, now):
            last = rules.ServiceState(row.announced_state) if row.announced_state else None
            await announce_service_change(conn, row, last, now)
            told += 1
    return told


async def _own_institution(
    conn: AsyncConnection, account_id: int, institution_id: int
) -> InstitutionRecord:
    # Entitlements are per institution (R-LIC-1, R-SVC-1) and belong to the paying account.
    row = await accounts.get_institution(conn, institution_id)
    if row is None or row.account_id != account_id:
        raise RuleViolation("INSTITUTION_NOT_FOUND", "institutionId")
    return row
