"""AI reading through the services, on a real database (R-AI-1..5, R-GEN-7): packs are
credited, reads draw soonest-expiring first, licences cover reads, packs expire and
are swept, and the AI ledger reconciles after every scenario."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from imaging_billing.api.context import Services
from imaging_billing.domain.ai import AiReadItem, ReadCover, ReadStatus
from imaging_billing.domain.catalog import AiProduct
from imaging_billing.domain.errors import RuleViolation
from imaging_billing.services import ai, entitlements
from imaging_billing.services.ai import AiReadOutcome
from imaging_billing.services.clock import ManualClock
from imaging_billing.services.principals import Principal, Role
from imaging_billing.services.steps import ai as ai_steps
from imaging_billing.services.sweep import run_sweep
from imaging_billing.store import ai as store
from imaging_billing.store.commerce_tables import ai_ledger_entry, ai_licence, ai_pack

from ..factories import create_account, create_institution

GLAUCOMA = AiProduct.GLAUCOMA
PNEUMONIA = AiProduct.PNEUMONIA
MS = timedelta(milliseconds=1)


def item(key: str, uid: str = "1.2.840.1", product: AiProduct = GLAUCOMA) -> AiReadItem:
    return AiReadItem(product, uid, key)


def read_id(outcome: AiReadOutcome) -> int | None:
    return outcome.read.id if outcome.read is not None else None


async def credit(services: Services, account: int, quantity: int = 1_000) -> int:
    async with services.db.write() as conn:
        return await ai_steps.credit_ai_pack(
            conn,
            account_id=account,
            product=GLAUCOMA,
            quantity=quantity,
            now=services.clock.now(),
            actor="test",
            order_id=None,
        )


async def grant(services: Services, account: int, institution: int, product: AiProduct) -> int:
    async with services.db.write() as conn:
        return await ai_steps.grant_ai_licence(
            conn,
            account_id=account,
            institution_id=institution,
            product=product,
            now=services.clock.now(),
            order_id=None,
        )


async def record(
    services: Services, account: int, institution: int, items: list[AiReadItem]
) -> list[AiReadOutcome]:
    async with services.db.write() as conn:
        return await ai_steps.record_ai_reads(
            conn,
            account_id=account,
            institution_id=institution,
            reads=items,
            now=services.clock.now(),
            actor=f"institution:{institution}",
        )


async def pack_used(services: Services, pack_id: int) -> tuple[int, int]:
    async with services.db.read() as conn:
        row = await store.get_pack(conn, pack_id)
    assert row is not None
    return row.used, row.forfeited


async def assert_reconciled(services: Services, account: int) -> None:
    async with services.db.read() as conn:
        assert await ai.reconcile_ai(conn, account) == []


async def glaucoma_figures(services: Services, account: int) -> tuple[int, int, int, int]:
    async with services.db.read() as conn:
        found = (await ai.ai_figures(conn, account, services.clock.now())).figures
    f = next(f for f in found if f.product is GLAUCOMA)
    return f.remaining, f.bought, f.used, f.expired


@pytest.fixture
async def site(services: Services) -> tuple[int, int]:
    account = await create_account(services)
    gateway = await create_institution(services, account)
    return account, gateway.institution_pk


async def test_reads_draw_from_the_soonest_expiring_pack_first(
    services: Services, clock: ManualClock, site: tuple[int, int]
) -> None:
    """R-AI-2: packs stack; the older (sooner-expiring) pack is drained first."""
    account, institution = site
    # given a pack bought now and a bigger one a month later
    older = await credit(services, account, 1_000)
    clock.advance(timedelta(days=30))
    newer = await credit(services, account, 2_000)
    # when 1,001 reads arrive in one batch
    outcomes = await record(services, account, institution, [item(f"k{n}") for n in range(1_001)])
    # then the older pack covers 1,000 of them and the newer one the last
    assert {o.status for o in outcomes} == {ReadStatus.ACCEPTED}
    assert [o.read.pack_id for o in outcomes if o.read is not None] == [older] * 1_000 + [newer]
    assert {o.cover for o in outcomes} == {ReadCover.PACK}
    assert await pack_used(services, older) == (1_000, 0)
    assert await pack_used(services, newer) == (1, 0)
    assert await glaucoma_figures(services, account) == (1_999, 3_000, 1_001, 0)
    await assert_reconciled(services, account)


async def test_the_same_key_again_is_the_same_answer_and_draws_nothing(
    services: Services, site: tuple[int, int]
) -> None:
    """R-AI-2: re-reporting a read (same idempotency key) draws nothing more."""
    account, institution = site
    pack = await credit(services, account)
    # when a read is reported, then again alone, then twice in one batch
    (first,) = await record(services, account, institution, [item("k1")])
    (again,) = await record(services, account, institution, [item("k1")])
    batch = await record(services, account, institution, [item("k2"), item("k2"), item("k1")])
    # then each replay names the read first recorded, and only two credits are drawn
    assert (first.status, again.status) == (ReadStatus.ACCEPTED, ReadStatus.DUPLICATE)
    assert read_id(again) == read_id(first) is not None
    assert [o.status for o in batch] == [
        ReadStatus.ACCEPTED,
        ReadStatus.DUPLICATE,
        ReadStatus.DUPLICATE,
    ]
    assert read_id(batch[1]) == read_id(batch[0]) is not None
    assert await pack_used(services, pack) == (2, 0)
    await assert_reconciled(services, account)


async def test_a_key_reused_for_another_study_is_refused(
    services: Services, site: tuple[int, int]
) -> None:
    account, institution = site
    await credit(services, account)
    await record(services, account, institution, [item("k1", uid="1.2.3")])
    (reused,) = await record(services, account, institution, [item("k1", uid="1.2.4")])
    assert reused.status is ReadStatus.REFUSED
    assert reused.error is not None
    assert reused.error.code == "IDEMPOTENCY_KEY_REUSED"
    await assert_reconciled(services, account)


async def test_r_ai_3_no_credit_refuses_and_records_nothing(
    services: Services, site: tuple[int, int]
) -> None:
    """R-AI-3: no AI arrears; the refused read can be retried once a pack is bought."""
    account, institution = site
    # given an account without any pack / when a read arrives
    (refused,) = await record(services, account, institution, [item("k1")])
    # then it is refused with the rule, and nothing is written
    assert refused.status is ReadStatus.REFUSED
    assert refused.error is not None
    assert (refused.error.code, refused.read) == ("R_AI_3_NO_CREDIT", None)
    async with services.db.read() as conn:
        assert await store.count_reads_by_pack(conn, account) == {}
    # when a pack is bought, the same key is a fresh read
    await credit(services, account)
    (retried,) = await record(services, account, institution, [item("k1")])
    assert retried.status is ReadStatus.ACCEPTED
    await assert_reconciled(services, account)


async def test_r_ai_4_a_licence_covers_unlimited_reads_of_its_institution(
    services: Services, site: tuple[int, int]
) -> None:
    account, institution = site
    other = (await create_institution(services, account, name="Branch")).institution_pk
    pack = await credit(services, account)
    await grant(services, account, institution, PNEUMONIA)
    glaucoma_licence = await grant(services, account, institution, GLAUCOMA)
    # when the licensed institution reads 1,500 studies of each product
    for product in (PNEUMONIA, GLAUCOMA):
        for start in (0, 750):
            batch = [item(f"{product}-{n}", product=product) for n in range(start, start + 750)]
            outcomes = await record(services, account, institution, batch)
            assert {(o.status, o.cover) for o in outcomes} == {
                (ReadStatus.ACCEPTED, ReadCover.LICENCE)
            }
    # then the licence covered them and the pack is untouched
    assert outcomes[0].read is not None
    assert outcomes[0].read.licence_id == glaucoma_licence
    assert await pack_used(services, pack) == (0, 0)
    # while an institution without the licence is refused, and draws the pack for glaucoma
    pneumonia, glaucoma = await record(
        services, account, other, [item("o1", product=PNEUMONIA), item("o2")]
    )
    assert pneumonia.error is not None
    assert pneumonia.error.code == "R_AI_3_NO_CREDIT"
    assert (glaucoma.status, glaucoma.cover) == (ReadStatus.ACCEPTED, ReadCover.PACK)
    async with services.db.read() as conn:
        held = await entitlements.held_licences(conn, [institution, other])
        shown = await ai.ai_figures(conn, account, services.clock.now())
        products = [f.product for f in shown.figures]
    assert {i: h.ai_products for i, h in held.items()} == {
        institution: {PNEUMONIA, GLAUCOMA},
        other: set(),
    }
    assert products == [GLAUCOMA, PNEUMONIA]
    assert {f.product: f.licence_reads for f in shown.figures} == {
        GLAUCOMA: 1_500,
        PNEUMONIA: 1_500,
    }
    await assert_reconciled(services, account)


async def test_r_ai_4_granting_a_licence_twice_is_refused(
    services: Services, site: tuple[int, int]
) -> None:
    account, institution = site
    await grant(services, account, institution, PNEUMONIA)
    with pytest.raises(RuleViolation) as refused:
        await grant(services, account, institution, PNEUMONIA)
    assert refused.value.code == "R_AI_4_ALREADY_HELD"
    # and another account cannot be granted a licence for this institution
    stranger = await create_account(services, name="Other")
    with pytest.raises(RuleViolation) as foreign:
        await grant(services, stranger, institution, AiProduct.COLORECTAL)
    assert foreign.value.code == "INSTITUTION_NOT_FOUND"
    async with services.db.read() as conn:
        held = await entitlements.held_licences(conn, [institution])
    assert held[institution].ai_products == {PNEUMONIA}


async def test_r_ai_1_a_pack_expires_one_year_after_purchase_and_is_swept_once(
    services: Services, clock: ManualClock, site: tuple[int, int]
) -> None:
    account, institution = site
    bought = clock.now()
    pack = await credit(services, account)
    await record(services, account, institution, [item(f"k{n}") for n in range(10)])
    # a millisecond before the anniversary the pack still serves
    clock.set(bought.replace(year=bought.year + 1) - MS)
    (last,) = await record(services, account, institution, [item("late")])
    assert last.status is ReadStatus.ACCEPTED
    # at the anniversary instant it is expired, before any sweep
    clock.set(bought.replace(year=bought.year + 1))
    (refused,) = await record(services, account, institution, [item("too-late")])
    assert refused.error is not None
    assert refused.error.code == "R_AI_3_NO_CREDIT"
    assert await glaucoma_figures(services, account) == (0, 1_000, 11, 989)
    # when the sweep runs twice, the remainder is forfeited once
    assert (await run_sweep(services.db, clock.now())).ai_packs_expired == 1
    assert (await run_sweep(services.db, clock.now())).ai_packs_expired == 0
    assert await pack_used(services, pack) == (11, 989)
    async with services.db.read() as conn:
        expiries = (
            await conn.execute(
                sa.select(ai_ledger_entry.c.quantity).where(ai_ledger_entry.c.type == "EXPIRY")
            )
        ).all()
    assert [row.quantity for row in expiries] == [-989]
    assert await glaucoma_figures(services, account) == (0, 1_000, 11, 989)
    await assert_reconciled(services, account)


async def test_a_sweep_before_expiry_and_of_a_used_up_pack_writes_no_forfeit(
    services: Services, clock: ManualClock, site: tuple[int, int]
) -> None:
    account, institution = site
    pack = await credit(services, account)
    assert (await run_sweep(services.db, clock.now())).ai_packs_expired == 0
    await record(services, account, institution, [item(f"k{n}") for n in range(1_000)])
    clock.advance(timedelta(days=366))
    assert (await run_sweep(services.db, clock.now())).ai_packs_expired == 1
    assert await pack_used(services, pack) == (1_000, 0)
    await assert_reconciled(services, account)


async def test_credit_refuses_bad_terms_and_unknown_accounts(services: Services) -> None:
    account = await create_account(services)
    with pytest.raises(RuleViolation) as unit:
        await credit(services, account, 1_500)
    assert unit.value.code == "R_AI_1_UNIT"
    with pytest.raises(RuleViolation) as missing:
        await credit(services, account + 99)
    assert missing.value.code == "ACCOUNT_NOT_FOUND"
    async with services.db.read() as conn:
        assert await store.account_packs(conn, account) == []


async def test_reconciliation_finds_a_tampered_counter(
    services: Services, site: tuple[int, int]
) -> None:
    """R-GEN-7: the cached `used` is checked against the ledger and the reads."""
    account, institution = site
    pack = await credit(services, account)
    await record(services, account, institution, [item("k1")])
    async with services.db.write() as conn:
        await conn.execute(ai_pack.update().where(ai_pack.c.id == pack).values(used=5))
        found = await ai.reconcile_ai(conn, account)
    assert {(d.subject, d.check) for d in found} == {
        (f"ai_pack:{pack}", "remainder = ledger"),
        (f"ai_pack:{pack}", "used = reads drawn"),
    }


async def test_reconciliation_finds_a_tampered_licence_read_counter(
    services: Services, site: tuple[int, int]
) -> None:
    """R-GEN-7: a licence's cached `reads` is checked against the reads it covered."""
    account, institution = site
    licence = await grant(services, account, institution, GLAUCOMA)
    await record(services, account, institution, [item("k1"), item("k2")])
    async with services.db.write() as conn:
        assert await ai.reconcile_ai(conn, account) == []
        await conn.execute(ai_licence.update().where(ai_licence.c.id == licence).values(reads=7))
        found = await ai.reconcile_ai(conn, account)
        shown = await ai.ai_figures(conn, account, services.clock.now())
    assert [(d.subject, d.check, d.expected, d.actual) for d in found] == [
        (f"ai_licence:{licence}", "reads = reads covered", 2, 7)
    ]
    assert [f.licence_reads for f in shown.figures] == [7]  # the figures read the counter


async def test_only_an_institution_records_its_own_reads(
    services: Services, site: tuple[int, int]
) -> None:
    account, institution = site
    await credit(services, account)
    now = services.clock.now()
    operator = Principal(Role.OPERATOR, 0, "ops")
    gateway = Principal(
        Role.INSTITUTION, institution, "gw", account_id=account, institution_id=institution
    )
    cases = [
        (operator, institution, [item("k")], "FORBIDDEN"),
        (gateway, institution + 1, [item("k")], "INSTITUTION_NOT_FOUND"),
        (gateway, institution, [item(f"k{n}") for n in range(1_001)], "BATCH_TOO_LARGE"),
    ]
    for principal, target, items, code in cases:
        with pytest.raises(RuleViolation) as refused:
            await ai.record_reads(
                services.db, principal, institution_id=target, items=items, now=now
            )
        assert refused.value.code == code
    # and its own reads go through, in one transaction
    (ok,) = await ai.record_reads(
        services.db, gateway, institution_id=institution, items=[item("k")], now=now
    )
    assert ok.status is ReadStatus.ACCEPTED
    await assert_reconciled(services, account)
