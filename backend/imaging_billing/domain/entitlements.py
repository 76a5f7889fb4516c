"""Licences and services (R-LIC-1..5, R-SVC-1..4): terms, states and transitions.

Pure: callers load a service, pass `now`, and persist what comes back. A service's
state is never stored; it is derived at `now`, so expiry and the end of maintenance
happen by themselves, with no sweep (R-SVC-1, R-SVC-3).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from .catalog import ServiceKind
from .clock import add_years, local_date
from .errors import RuleViolation
from .orders import add_years_date, service_window

SERVICE_USE_BY_YEARS = 1  # R-SVC-1
MAX_MAINTENANCE_YEARS = 100  # as domain.orders.line_years


class ServiceState(StrEnum):
    # Delivery and custom development (R-SVC-1/2): one-time work.
    PURCHASED = "PURCHASED"  # bought, work not started yet
    IN_PROGRESS = "IN_PROGRESS"  # an operator started the work
    ACCEPTED = "ACCEPTED"  # the customer confirmed acceptance: complete
    EXPIRED = "EXPIRED"  # not started within one year of purchase: forfeited
    # Maintenance (R-SVC-3): runs by itself for the years bought.
    SCHEDULED = "SCHEDULED"  # before its start day
    ACTIVE = "ACTIVE"
    ENDED = "ENDED"


@dataclass(frozen=True)
class ServiceTerms:
    """What a purchase fixes for good: the use-by instant and maintenance's window."""

    years: int | None
    use_by: datetime
    starts_on: date | None
    ends_on: date | None  # the first Asia/Shanghai day no longer covered


@dataclass(frozen=True)
class Service:
    """A service as the rules see it."""

    kind: ServiceKind
    purchased_at: datetime
    use_by: datetime
    starts_on: date | None
    ends_on: date | None
    started_at: datetime | None
    accepted_at: datetime | None

    def state(self, now: datetime) -> ServiceState:
        return service_state(self, now)


def service_terms(
    kind: ServiceKind, *, years: int | None, starts_on: date | None, purchased_at: datetime
) -> ServiceTerms:
    """R-SVC-1/3: a service is used within a year; maintenance runs `years` from its start.

    Maintenance starts on the purchase day (in Asia/Shanghai) unless the order names a
    later day within the year. A start day chosen when ordering that has passed by the
    time the order is paid is moved to the payment day: the customer keeps every year
    bought instead of losing the days between ordering and paying.
    """
    use_by = add_years(purchased_at, SERVICE_USE_BY_YEARS)
    if kind is not ServiceKind.MAINTENANCE:
        return ServiceTerms(years=None, use_by=use_by, starts_on=None, ends_on=None)
    if years is None or not 1 <= years <= MAX_MAINTENANCE_YEARS:
        raise RuleViolation("R_SVC_3_YEARS", "years")
    purchased = local_date(purchased_at)
    if starts_on is not None and starts_on >= add_years_date(purchased, SERVICE_USE_BY_YEARS):
        raise RuleViolation("R_SVC_3_START", "startsOn")
    start = max(starts_on, purchased) if starts_on is not None else None
    first, end = service_window(purchased, start, years)
    return ServiceTerms(years=years, use_by=use_by, starts_on=first, ends_on=end)


def service_state(service: Service, now: datetime) -> ServiceState:
    """The state at `now` (R-SVC-1..3)."""
    if service.kind is ServiceKind.MAINTENANCE:
        return _maintenance_state(service, local_date(now))
    if service.accepted_at is not None:
        return ServiceState.ACCEPTED
    if service.started_at is not None:
        # Started within its year: the work may run past the use-by instant.
        return ServiceState.IN_PROGRESS
    # R-SVC-1 / R-GEN-6: at the use-by instant itself the service is already gone.
    return ServiceState.EXPIRED if now >= service.use_by else ServiceState.PURCHASED


def _maintenance_state(service: Service, today: date) -> ServiceState:
    # Maintenance starts by itself within its year, so it is never unused (no EXPIRED).
    # Days are Asia/Shanghai calendar days (R-GEN-6): the hospital's own midnight.
    assert service.starts_on is not None
    assert service.ends_on is not None
    if today < service.starts_on:
        return ServiceState.SCHEDULED
    if today < service.ends_on:
        return ServiceState.ACTIVE
    return ServiceState.ENDED


def check_start(service: Service, now: datetime) -> None:
    """An operator marks one-time work started: only a purchased, unexpired service."""
    if service.kind is ServiceKind.MAINTENANCE or service.state(now) is not ServiceState.PURCHASED:
        raise RuleViolation("R_SVC_2_STATE", "serviceId")


def check_acceptance(service: Service, now: datetime) -> None:
    """R-SVC-2: the customer confirms acceptance of work in progress; maintenance has none."""
    if service.kind is ServiceKind.MAINTENANCE:
        raise RuleViolation("R_SVC_2_STATE", "serviceId")
    if service.state(now) is not ServiceState.IN_PROGRESS:
        raise RuleViolation("R_SVC_2_STATE", "serviceId")


def service_remark(institution_name: str | None, institution_id: int | str | None) -> str:
    """R-SVC-4: the institution's name and, when it is on the platform, its institution ID.

    In Chinese, as the purchase guide and the people reading the order write it.
    """
    name = (institution_name or "").strip()
    if institution_id is None:
        if not name:
            raise RuleViolation("R_SVC_4_REMARK", "institutionId")
        return f"机构：{name}"
    if not name:
        return f"机构 ID：{institution_id}"
    return f"机构：{name}；机构 ID：{institution_id}"
