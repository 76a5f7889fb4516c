"""Licences and services through the use cases, on a real database: what order
fulfilment enables and opens, and who may move a service on (R-LIC-1/4/5, R-SVC-1..4)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest

from imaging_billing.api.context import Services
from imaging_billing.domain.catalog import Feature, ServiceKind, ServiceVariant
from imaging_billing.domain.clock import SHANGHAI
from imaging_billing.domain.entitlements import ServiceState
from imaging_billing.domain.errors import RuleViolation
from imaging_billing.domain.identity import public_id
from imaging_billing.services import entitlements
from imaging_billing.services.clock import ManualClock
from imaging_billing.services.principals import Principal, Role
from imaging_billing.services.steps import entitlements as entitlement_steps

from ..factories import create_account, create_institution

MS = timedelta(milliseconds=1)


def admin(account_id: int) -> Principal:
    return Principal(Role.ACCOUNT_ADMIN, 100 + account_id, "admin", account_id=account_id)


def viewer(account_id: int) -> Principal:
    return Principal(Role.ACCOUNT_VIEWER, 200 + account_id, "viewer", account_id=account_id)


async def enable(services: Services, account: int, institution: int, feature: Feature) -> int:
    async with services.db.write() as conn:
        return await entitlement_steps.enable_licence(
            conn,
            account_id=account,
            institution_id=institution,
            feature=feature,
            now=services.clock.now(),
            order_id=None,
        )


async def open_service(
    services: Services,
    account: int,
    institution: int | None,
    kind: ServiceKind = ServiceKind.DELIVERY,
    **overrides: Any,
) -> int:
    values: dict[str, Any] = {
        "institution_name": None,
        "variant": ServiceVariant.REMOTE,
        "years": None,
        "starts_on": None,
        "order_id": None,
        **overrides,
    }
    async with services.db.write() as conn:
        return await entitlement_steps.open_service(
            conn,
            account_id=account,
            institution_id=institution,
            kind=kind,
            now=services.clock.now(),
            **values,
        )


async def service_row(services: Services, service_id: int) -> Any:
    async with services.db.read() as conn:
        row = await entitlements.visible_service(
            conn, Principal(Role.OPERATOR, 0, "ops"), service_id
        )
    assert row is not None
    return row


async def states(services: Services, account: int, now: datetime) -> dict[int, ServiceState]:
    async with services.db.read() as conn:
        rows, _ = await entitlements.page_services(
            conn, account_id=account, after_id=None, limit=100, now=now
        )
    return {row.id: entitlements.service_state(row, now) for row in rows}


# --- licences (R-LIC-1/4/5) ------------------------------------------------------------


async def test_r_lic_4_a_licence_already_held_is_refused(services: Services) -> None:
    # given an institution with the base suite and MPR, and a second with nothing
    account = await create_account(services)
    main = (await create_institution(services, account)).institution_pk
    branch = (await create_institution(services, account, name="Branch")).institution_pk
    await enable(services, account, main, Feature.BASE_SUITE)
    await enable(services, account, main, Feature.MPR)
    # when MPR is enabled there again / then it is refused, and nothing else changed
    with pytest.raises(RuleViolation) as refused:
        await enable(services, account, main, Feature.MPR)
    assert (refused.value.code, refused.value.field) == ("R_LIC_4_ALREADY_HELD", "feature")
    async with services.db.read() as conn:
        held = await entitlements.held_licences(conn, [main, branch])
        listed = await entitlements.institution_licences(conn, main)
    # and R-LIC-1: licences are per institution, the branch needs its own
    assert {i: h.features for i, h in held.items()} == {
        main: {Feature.BASE_SUITE, Feature.MPR},
        branch: set(),
    }
    assert [row.feature for row in listed] == ["BASE_SUITE", "MPR"]


async def test_r_lic_1_the_same_feature_for_two_institutions_is_two_licences(
    services: Services,
) -> None:
    account = await create_account(services)
    first = (await create_institution(services, account)).institution_pk
    second = (await create_institution(services, account, name="Second")).institution_pk
    ids = [await enable(services, account, i, Feature.BASE_SUITE) for i in (first, second)]
    assert len(set(ids)) == 2
    async with services.db.read() as conn:
        assert await entitlements.held_licences(conn, []) == {}


async def test_a_licence_is_enabled_only_for_an_institution_of_the_paying_account(
    services: Services,
) -> None:
    account = await create_account(services)
    other = await create_account(services, name="Other")
    theirs = (await create_institution(services, other)).institution_pk
    with pytest.raises(RuleViolation, match="INSTITUTION_NOT_FOUND"):
        await enable(services, account, theirs, Feature.BASE_SUITE)


# --- opening services (R-SVC-1/3/4) ----------------------------------------------------


async def test_r_svc_4_services_carry_the_institution_name_and_id(services: Services) -> None:
    # given an institution on the platform
    account = await create_account(services)
    site = (await create_institution(services, account, name="协和医院")).institution_pk
    # when a delivery is opened for it and a custom development for a site not yet on it
    delivery = await open_service(services, account, site)
    custom = await open_service(
        services,
        account,
        None,
        ServiceKind.CUSTOM_DEV,
        institution_name=" 新院区 ",
        variant=None,
    )
    # then each remark names the institution, with its ID when on the platform
    on_platform, newcomer = (
        await service_row(services, delivery),
        await service_row(services, custom),
    )
    assert (on_platform.institution_name, on_platform.remark) == (
        "协和医院",
        f"机构：协和医院；机构 ID：{public_id('Institution', site)}",
    )
    assert (newcomer.institution_name, newcomer.remark) == ("新院区", "机构：新院区")
    assert newcomer.institution_id is None
    # and R-SVC-1: each is used within one year of purchase
    assert on_platform.use_by == services.clock.now().replace(year=2027)
    assert (on_platform.years, on_platform.starts_on, on_platform.ends_on) == (None, None, None)


async def test_r_svc_3_maintenance_gets_its_window(services: Services, clock: ManualClock) -> None:
    account = await create_account(services)
    site = (await create_institution(services, account)).institution_pk
    # when three years of maintenance are opened on 1 March, to start on 1 June
    service = await open_service(
        services, account, site, ServiceKind.MAINTENANCE, years=3, starts_on=date(2026, 6, 1)
    )
    row = await service_row(services, service)
    # then it runs 1 June 2026 to 1 June 2029, scheduled until then
    assert (row.years, row.starts_on, row.ends_on) == (3, date(2026, 6, 1), date(2029, 6, 1))
    assert (await states(services, account, clock.now()))[service] is ServiceState.SCHEDULED


async def test_r_svc_4_a_service_names_some_institution(services: Services) -> None:
    account = await create_account(services)
    with pytest.raises(RuleViolation, match="R_SVC_4_REMARK"):
        await open_service(services, account, None, institution_name="  ")


async def test_r_svc_3_maintenance_without_years_is_refused(services: Services) -> None:
    account = await create_account(services)
    with pytest.raises(RuleViolation, match="R_SVC_3_YEARS"):
        await open_service(services, account, None, ServiceKind.MAINTENANCE, institution_name="X")


# --- transitions (R-SVC-1/2) -----------------------------------------------------------


async def test_r_svc_2_operator_starts_the_work_and_the_customer_accepts_it(
    services: Services, operator: Principal, clock: ManualClock
) -> None:
    # given a purchased delivery
    account = await create_account(services)
    site = (await create_institution(services, account)).institution_pk
    service = await open_service(services, account, site)
    # when an operator starts the work a week later
    clock.advance(timedelta(days=7))
    started = await entitlements.start_service(
        services.db, operator, service_id=service, now=clock.now()
    )
    assert started.started_at == clock.now()
    assert entitlements.service_state(started, clock.now()) is ServiceState.IN_PROGRESS
    # then it cannot be started twice
    with pytest.raises(RuleViolation, match="R_SVC_2_STATE"):
        await entitlements.start_service(services.db, operator, service_id=service, now=clock.now())
    # when the account's administrator accepts it
    clock.advance(timedelta(days=30))
    accepted = await entitlements.confirm_service_acceptance(
        services.db, admin(account), service_id=service, now=clock.now()
    )
    # then it is complete, and cannot be accepted again
    assert accepted.accepted_at == clock.now()
    assert entitlements.service_state(accepted, clock.now()) is ServiceState.ACCEPTED
    with pytest.raises(RuleViolation, match="R_SVC_2_STATE"):
        await entitlements.confirm_service_acceptance(
            services.db, operator, service_id=service, now=clock.now()
        )


async def test_r_svc_2_refusals_leave_the_service_as_it_was(
    services: Services, operator: Principal, clock: ManualClock
) -> None:
    account = await create_account(services)
    delivery = await open_service(services, account, None, institution_name="A")
    maintenance = await open_service(
        services, account, None, ServiceKind.MAINTENANCE, institution_name="A", years=1
    )
    now = clock.now()
    # a purchased delivery cannot be accepted before the work started
    with pytest.raises(RuleViolation, match="R_SVC_2_STATE"):
        await entitlements.confirm_service_acceptance(
            services.db, admin(account), service_id=delivery, now=now
        )
    # maintenance is neither started nor accepted: it runs by itself
    with pytest.raises(RuleViolation, match="R_SVC_2_STATE"):
        await entitlements.start_service(services.db, operator, service_id=maintenance, now=now)
    with pytest.raises(RuleViolation, match="R_SVC_2_STATE"):
        await entitlements.confirm_service_acceptance(
            services.db, operator, service_id=maintenance, now=now
        )
    rows = [await service_row(services, pk) for pk in (delivery, maintenance)]
    assert all(row.started_at is None and row.accepted_at is None for row in rows)


async def test_r_svc_1_an_unused_service_expires_a_year_after_purchase(
    services: Services, operator: Principal, clock: ManualClock
) -> None:
    account = await create_account(services)
    service = await open_service(services, account, None, institution_name="A")
    # when a year has passed to the instant without the work starting
    expiry = clock.now().replace(year=2027)
    assert (await states(services, account, expiry - timedelta(seconds=1)))[service] is (
        ServiceState.PURCHASED
    )
    assert (await states(services, account, expiry))[service] is ServiceState.EXPIRED
    # then it can no longer be started
    with pytest.raises(RuleViolation, match="R_SVC_2_STATE"):
        await entitlements.start_service(services.db, operator, service_id=service, now=expiry)


async def test_only_the_accounts_administrator_or_an_operator_accepts(
    services: Services, operator: Principal
) -> None:
    # given a started delivery of one account
    account = await create_account(services)
    other = await create_account(services, name="Other")
    service = await open_service(services, account, None, institution_name="A")
    now = services.clock.now()
    await entitlements.start_service(services.db, operator, service_id=service, now=now)
    # another account's administrator cannot even see it
    with pytest.raises(RuleViolation) as hidden:
        await entitlements.confirm_service_acceptance(
            services.db, admin(other), service_id=service, now=now
        )
    assert (hidden.value.code, hidden.value.field) == ("SERVICE_NOT_FOUND", None)
    # the account's viewer sees it but may not accept it
    with pytest.raises(RuleViolation, match="FORBIDDEN"):
        await entitlements.confirm_service_acceptance(
            services.db, viewer(account), service_id=service, now=now
        )
    # and only an operator starts work
    with pytest.raises(RuleViolation, match="FORBIDDEN"):
        await entitlements.start_service(services.db, admin(account), service_id=service, now=now)
    # unknown services are not found
    with pytest.raises(RuleViolation, match="SERVICE_NOT_FOUND"):
        await entitlements.start_service(services.db, operator, service_id=999, now=now)
    with pytest.raises(RuleViolation, match="SERVICE_NOT_FOUND"):
        await entitlements.confirm_service_acceptance(
            services.db, admin(account), service_id=999, now=now
        )


# --- reading by state (the SQL filter agrees with the rules) ---------------------------


async def test_state_filter_and_counts_agree_with_each_services_state(
    services: Services, operator: Principal, clock: ManualClock
) -> None:
    # given services in every state at some instant (NOW: 1 March 2026, 16:00 Shanghai)
    account = await create_account(services)
    other = await create_account(services, name="Other")
    await open_service(services, other, None, institution_name="elsewhere")
    opened = clock.now()
    start = opened.date() + timedelta(days=10)
    for kind, years, starts_on in [
        (ServiceKind.DELIVERY, None, None),
        (ServiceKind.CUSTOM_DEV, None, None),
        (ServiceKind.DELIVERY, None, None),
        (ServiceKind.MAINTENANCE, 1, None),
        (ServiceKind.MAINTENANCE, 1, start),
    ]:
        await open_service(
            services, account, None, kind, institution_name="A", years=years, starts_on=starts_on
        )
    ids = sorted(await states(services, account, opened))
    await entitlements.start_service(services.db, operator, service_id=ids[1], now=opened)
    await entitlements.start_service(services.db, operator, service_id=ids[2], now=opened)
    await entitlements.confirm_service_acceptance(
        services.db, operator, service_id=ids[2], now=opened
    )
    # when the account's services are read at instants around the edges: the
    # scheduled start and the maintenance end at Shanghai midnight, the use-by instant
    starts = datetime.combine(start, time(), SHANGHAI)
    ends = datetime(2027, 3, 1, tzinfo=SHANGHAI)
    use_by = opened.replace(year=2027)
    seen: set[ServiceState] = set()
    for now in [opened, starts - MS, starts, ends - MS, ends, use_by - MS, use_by]:
        derived = await states(services, account, now)
        # then, in every state, the filtered page and its count are exactly those rows
        for state in ServiceState:
            async with services.db.read() as conn:
                rows, total = await entitlements.page_services(
                    conn, account_id=account, after_id=None, limit=100, state=state, now=now
                )
            expected = [pk for pk, s in derived.items() if s is state]
            assert [row.id for row in rows] == expected, (now, state)
            assert total == len(expected)
        seen.update(derived.values())
    assert seen == set(ServiceState)


async def test_services_page_by_institution_with_a_cursor(services: Services) -> None:
    account = await create_account(services)
    site = (await create_institution(services, account)).institution_pk
    mine = [await open_service(services, account, site) for _ in range(3)]
    await open_service(services, account, None, institution_name="elsewhere")
    now = services.clock.now()
    async with services.db.read() as conn:
        first, total = await entitlements.page_services(
            conn, institution_id=site, after_id=None, limit=2, now=now
        )
        rest, _ = await entitlements.page_services(
            conn, institution_id=site, after_id=first[-1].id, limit=2, now=now
        )
    assert total == 3
    assert [row.id for row in first + rest] == mine
