"""Reconciliation while uploads commit (R-GEN-7): its SELECTs must see one moment.

Under READ COMMITTED on PostgreSQL each SELECT of `reconcile_account` saw the uploads
committed up to its own start, and the account's arrears counter, read first, disagreed
with the exams counted a statement later: false discrepancies. Reads now run in one
REPEATABLE READ snapshot (store/db.py); reconciling continuously during the load finds
nothing on either backend."""

from __future__ import annotations

import asyncio

from imaging_billing.api.context import Services
from imaging_billing.services.reconcile import Discrepancy, reconcile_account
from imaging_billing.services.steps.uploads import UploadItem, UploadStatus, record_uploads

from ..factories import create_account, create_institution, credit_lot

WRITERS = 4
ROUNDS = 60  # per writer; 5 uploads each, one transaction per round


async def test_reconcile_never_sees_half_of_a_commit(services: Services) -> None:
    account_id = await create_account(services)
    gateway = await create_institution(services, account_id)
    # A lot that runs out mid-way: the load covers lots, then arrears (R-ARR-1).
    await credit_lot(services, account_id, quantity=10_000)
    async with services.db.write() as conn:
        seed = [UploadItem(gateway.institution_pk, f"1.2.9.{n}") for n in range(9_900)]
        await record_uploads(conn, account_id, seed, services.clock.now())

    done = asyncio.Event()
    accepted = 0

    async def writer(w: int) -> None:
        nonlocal accepted
        for r in range(ROUNDS):
            items = [UploadItem(gateway.institution_pk, f"1.2.{w}.{r}.{k}") for k in range(5)]
            async with services.db.write() as conn:
                outcomes = await record_uploads(conn, account_id, items, services.clock.now())
            accepted += sum(o.status is UploadStatus.ACCEPTED for o in outcomes)

    found: list[Discrepancy] = []
    checks = 0

    async def reconciler() -> None:
        nonlocal checks
        while not done.is_set():
            async with services.db.read() as conn:
                found.extend(await reconcile_account(conn, account_id))
            checks += 1

    watcher = asyncio.create_task(reconciler())
    await asyncio.gather(*(writer(w) for w in range(WRITERS)))
    done.set()
    await watcher

    assert accepted == WRITERS * ROUNDS * 5
    assert checks >= 3, checks  # reconciled throughout, not once at the end
    assert found == [], found[:5]
    async with services.db.read() as conn:
        assert await reconcile_account(conn, account_id) == []
