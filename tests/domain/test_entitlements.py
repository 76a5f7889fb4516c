"""Services as the rules see them: terms at purchase, the state at any instant, the
transitions people make, and the R-SVC-4 remark (R-SVC-1..4, R-GEN-6)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from imaging_billing.domain.catalog import ServiceKind
from imaging_billing.domain.clock import SHANGHAI
from imaging_billing.domain.entitlements import (
    Service,
    ServiceState,
    check_acceptance,
    check_start,
    service_remark,
    service_terms,
)
from imaging_billing.domain.errors import RuleViolation

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai
MS = timedelta(milliseconds=1)
ONE_TIME = [ServiceKind.DELIVERY, ServiceKind.CUSTOM_DEV]


def bought(
    kind: ServiceKind,
    purchased_at: datetime = NOW,
    *,
    years: int | None = None,
    starts_on: date | None = None,
) -> Service:
    terms = service_terms(kind, years=years, starts_on=starts_on, purchased_at=purchased_at)
    return Service(
        kind=kind,
        purchased_at=purchased_at,
        use_by=terms.use_by,
        starts_on=terms.starts_on,
        ends_on=terms.ends_on,
        started_at=None,
        accepted_at=None,
    )


def shanghai(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    """A wall-clock time in Shanghai, as the instant the rules receive (UTC)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI).astimezone(UTC)


# --- one-time services: delivery, custom development (R-SVC-1/2) -----------------------


@pytest.mark.parametrize("kind", ONE_TIME)
def test_r_svc_1_unused_service_expires_at_the_same_instant_a_year_later(
    kind: ServiceKind,
) -> None:
    # given a service bought at NOW and never started
    service = bought(kind)
    # then it is usable until just before the same instant one calendar year later
    assert service.use_by == datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
    assert service.state(NOW) is ServiceState.PURCHASED
    assert service.state(service.use_by - MS) is ServiceState.PURCHASED
    # and at that instant itself it has expired
    assert service.state(service.use_by) is ServiceState.EXPIRED


def test_r_gen_6_bought_on_29_february_expires_on_28_february() -> None:
    # given a delivery bought on 29 February of a leap year
    service = bought(ServiceKind.DELIVERY, datetime(2028, 2, 29, 3, 0, tzinfo=UTC))
    # then it is used by the same time on 28 February of the next year
    assert service.use_by == datetime(2029, 2, 28, 3, 0, tzinfo=UTC)


def test_r_gen_6_the_year_is_counted_on_the_shanghai_calendar() -> None:
    # given a delivery bought at 06:00 on 29 Feb 2028 in Shanghai (28 Feb in UTC)
    service = bought(ServiceKind.DELIVERY, shanghai(2028, 2, 29, 6, 0))
    # then its year ends at 06:00 on 28 Feb 2029 in Shanghai, the leap day falling back
    assert service.use_by == shanghai(2029, 2, 28, 6, 0)


@pytest.mark.parametrize("kind", ONE_TIME)
def test_r_svc_2_started_then_accepted(kind: ServiceKind) -> None:
    # given a purchased service
    service = bought(kind)
    # when an operator starts the work the day before it would expire
    check_start(service, service.use_by - timedelta(days=1))
    started = replace(service, started_at=service.use_by - timedelta(days=1))
    # then it is in progress, also after its use-by instant (it was used in time)
    assert started.state(service.use_by + timedelta(days=30)) is ServiceState.IN_PROGRESS
    # when the customer accepts after the use-by instant
    check_acceptance(started, service.use_by + timedelta(days=30))
    accepted = replace(started, accepted_at=service.use_by + timedelta(days=30))
    # then it is complete, for good
    assert accepted.state(service.use_by + timedelta(days=3650)) is ServiceState.ACCEPTED


@pytest.mark.parametrize("kind", ONE_TIME)
def test_r_svc_1_an_expired_service_cannot_be_started(kind: ServiceKind) -> None:
    service = bought(kind)
    # when an operator tries to start it at the use-by instant / then it is refused
    with pytest.raises(RuleViolation) as refused:
        check_start(service, service.use_by)
    assert (refused.value.code, refused.value.field) == ("R_SVC_2_STATE", "serviceId")


@pytest.mark.parametrize(
    ("started", "accepted"),
    [(True, False), (True, True)],
    ids=["in-progress", "accepted"],
)
def test_r_svc_2_work_is_started_only_once(started: bool, accepted: bool) -> None:
    service = replace(
        bought(ServiceKind.DELIVERY),
        started_at=NOW if started else None,
        accepted_at=NOW if accepted else None,
    )
    with pytest.raises(RuleViolation, match="R_SVC_2_STATE"):
        check_start(service, NOW + MS)


@pytest.mark.parametrize(
    "service",
    [
        bought(ServiceKind.DELIVERY),  # not started
        replace(bought(ServiceKind.CUSTOM_DEV), started_at=NOW, accepted_at=NOW),  # done
    ],
    ids=["purchased", "accepted"],
)
def test_r_svc_2_only_work_in_progress_can_be_accepted(service: Service) -> None:
    with pytest.raises(RuleViolation, match="R_SVC_2_STATE"):
        check_acceptance(service, NOW + MS)


def test_r_svc_2_unstarted_expired_service_cannot_be_accepted() -> None:
    service = bought(ServiceKind.DELIVERY)
    assert service.state(service.use_by) is ServiceState.EXPIRED
    with pytest.raises(RuleViolation, match="R_SVC_2_STATE"):
        check_acceptance(service, service.use_by)


# --- maintenance (R-SVC-3) -------------------------------------------------------------


def test_r_svc_3_maintenance_runs_the_years_bought_from_the_purchase_day() -> None:
    # given two years of maintenance bought at NOW (1 March 2026 in Shanghai)
    service = bought(ServiceKind.MAINTENANCE, years=2)
    # then it runs from that day to the same day two years later
    assert (service.starts_on, service.ends_on) == (date(2026, 3, 1), date(2028, 3, 1))
    assert service.state(NOW) is ServiceState.ACTIVE
    # and ends by itself at Shanghai midnight starting its end day
    assert service.state(shanghai(2028, 2, 29, 23, 59, 59)) is ServiceState.ACTIVE
    assert service.state(shanghai(2028, 3, 1, 0, 0)) is ServiceState.ENDED


def test_r_gen_6_purchase_day_is_the_shanghai_day_not_the_utc_day() -> None:
    # given maintenance bought at 01:00 on 1 March in Shanghai (still 28 Feb in UTC)
    purchased = shanghai(2026, 3, 1, 1, 0)
    assert purchased.date() == date(2026, 2, 28)
    service = bought(ServiceKind.MAINTENANCE, purchased, years=1)
    # then its days are Shanghai days
    assert (service.starts_on, service.ends_on) == (date(2026, 3, 1), date(2027, 3, 1))
    # and it ends at Shanghai midnight, 16:00 UTC the day before
    end = datetime(2027, 2, 28, 16, 0, tzinfo=UTC)
    assert service.state(end - MS) is ServiceState.ACTIVE
    assert service.state(end) is ServiceState.ENDED


def test_r_svc_3_a_later_start_within_the_year_is_scheduled_until_then() -> None:
    # given maintenance bought at NOW to start on 1 December
    service = bought(ServiceKind.MAINTENANCE, years=1, starts_on=date(2026, 12, 1))
    assert (service.starts_on, service.ends_on) == (date(2026, 12, 1), date(2027, 12, 1))
    # then it is scheduled until Shanghai midnight of that day (16:00 UTC the day before)
    assert service.state(datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC)) is ServiceState.SCHEDULED
    assert service.state(datetime(2026, 11, 30, 16, 0, tzinfo=UTC)) is ServiceState.ACTIVE
    # and, past its use-by instant, never expires: it started by itself
    assert service.state(service.use_by + MS) is ServiceState.ACTIVE
    assert service.state(shanghai(2027, 12, 1, 0, 0)) is ServiceState.ENDED


def test_r_svc_3_latest_start_is_the_last_day_of_the_year() -> None:
    last = date(2027, 2, 28)
    assert bought(ServiceKind.MAINTENANCE, years=1, starts_on=last).starts_on == last
    with pytest.raises(RuleViolation) as refused:
        bought(ServiceKind.MAINTENANCE, years=1, starts_on=date(2027, 3, 1))
    assert (refused.value.code, refused.value.field) == ("R_SVC_3_START", "startsOn")


def test_r_svc_3_start_day_passed_before_payment_moves_to_the_payment_day() -> None:
    # given an order naming 1 March as start day, paid on 3 March
    paid = NOW + timedelta(days=2)
    service = bought(ServiceKind.MAINTENANCE, paid, years=1, starts_on=date(2026, 3, 1))
    # then the customer still gets a whole year, counted from the payment day
    assert (service.starts_on, service.ends_on) == (date(2026, 3, 3), date(2027, 3, 3))


@pytest.mark.parametrize("years", [None, 0, -1, 101])
def test_r_svc_3_maintenance_needs_whole_years(years: int | None) -> None:
    with pytest.raises(RuleViolation) as refused:
        bought(ServiceKind.MAINTENANCE, years=years)
    assert (refused.value.code, refused.value.field) == ("R_SVC_3_YEARS", "years")


@pytest.mark.parametrize("when", [NOW, NOW + timedelta(days=400)])
def test_r_svc_2_maintenance_is_neither_started_nor_accepted(when: datetime) -> None:
    service = bought(ServiceKind.MAINTENANCE, years=1)
    with pytest.raises(RuleViolation, match="R_SVC_2_STATE"):
        check_start(service, when)
    with pytest.raises(RuleViolation, match="R_SVC_2_STATE"):
        check_acceptance(service, when)


def test_one_time_services_have_no_years_or_window() -> None:
    service = bought(ServiceKind.DELIVERY, years=3, starts_on=date(2026, 6, 1))
    assert (service.starts_on, service.ends_on) == (None, None)


# --- the remark (R-SVC-4) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "institution_id", "remark"),
    [
        ("协和医院", 12, "机构：协和医院；机构 ID：12"),
        ("  New Site  ", None, "机构：New Site"),
        ("", 7, "机构 ID：7"),
    ],
)
def test_r_svc_4_remark_names_the_institution_and_its_id_when_on_the_platform(
    name: str, institution_id: int | None, remark: str
) -> None:
    assert service_remark(name, institution_id) == remark


@pytest.mark.parametrize("name", [None, "", "   "])
def test_r_svc_4_a_service_for_no_institution_is_refused(name: str | None) -> None:
    with pytest.raises(RuleViolation) as refused:
        service_remark(name, None)
    assert refused.value.code == "R_SVC_4_REMARK"
