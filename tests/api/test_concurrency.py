"""Concurrent gateways through the ASGI app: many signed uploads at once, duplicates among
them, an account running out of lots into arrears, and an operator's recharge racing the
uploads. Whatever the interleaving, no exam is counted twice, no lot is over-drawn and
the figures reconcile with the ledger (R-EXAM-3, R-EXAM-4, R-ARR-1, R-ARR-3, R-ARR-4,
R-GEN-7)."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

from imaging_billing.api.context import Services
from imaging_billing.api.ids import encode
from imaging_billing.domain.exams import ExamFigures
from imaging_billing.services.clock import ManualClock
from imaging_billing.services.reading import exam_figures
from imaging_billing.services.reconcile import reconcile_account
from imaging_billing.services.steps.uploads import UploadItem, UploadStatus, record_uploads
from imaging_billing.store import accounts, exams, lots

from ..factories import create_account, create_institution, create_operator_token, credit_lot
from ..support import Api, Gateway

UPLOAD = """
mutation($inst: ID!, $uid: String!) {
  recordExamUpload(institutionId: $inst, studyInstanceUid: $uid) {
    status exam { id studyInstanceUid inArrears }
    userErrors { code field }
  }
}"""

UPLOADS = """
mutation($inst: ID!, $items: [ExamUploadInput!]!, $key: String) {
  recordExamUploads(institutionId: $inst, items: $items, idempotencyKey: $key) {
    accepted duplicates refused
    results { studyInstanceUid status exam { id } error { code } }
    userErrors { code }
  }
}"""

CREDIT = """
mutation($acc: ID!, $key: String) {
  creditExamLot(accountId: $acc, mode: VOLUME, quantity: 10000, idempotencyKey: $key) {
    settled lot { id quantity used }
    userErrors { code }
  }
}"""

UPLOADERS = 32
FRESH = UPLOADERS // 2  # the other half report studies someone else also reports
GATEWAYS = 4
PRECONSUMED = 9_980  # of a 10,000 lot: 20 left, so the second round runs into arrears


def uid(round_no: int, n: int) -> str:
    return f"1.2.392.200036.{round_no}.{n}"


async def consume(
    services: Services, account_id: int, gateway: Gateway, uids: list[str]
) -> list[str]:
    """Draw `uids` through the service directly (setup, not under test); their exam IDs."""
    items = [UploadItem(gateway.institution_pk, u) for u in uids]
    async with services.db.write() as conn:
        outcomes = await record_uploads(conn, account_id, items, services.clock.now())
    assert all(o.status is UploadStatus.ACCEPTED and o.exam for o in outcomes)
    return [str(encode("Exam", o.exam.id)) for o in outcomes if o.exam is not None]


async def state(services: Services, account_id: int) -> tuple[ExamFigures, list[Any], int, Any]:
    async with services.db.read() as conn:
        account = await accounts.get_account(conn, account_id)
        assert account is not None
        figures = await exam_figures(conn, account, services.clock.now())
        lot_rows = await lots.account_lots(conn, account_id)
        exam_count = await exams.count_exams(conn, account_id)
        found = await reconcile_account(conn, account_id)
    return figures, lot_rows, exam_count, found


def round_plan(round_no: int, previous: list[str]) -> list[str]:
    """32 uploaders: 16 fresh studies; 8 repeat a study of this round (reported by another
    institution), 8 repeat one of an earlier round (in the first round, of this one too)."""
    fresh = [uid(round_no, n) for n in range(FRESH)]
    repeats_now = fresh[: FRESH // 2]
    repeats_before = (previous or fresh[FRESH // 2 :])[: FRESH // 2]
    return fresh + repeats_now + repeats_before


class Answers:
    """Every answer the gateways got, by study."""

    def __init__(self) -> None:
        self.statuses: dict[str, Counter[str]] = defaultdict(Counter)
        self.exam_ids: dict[str, set[str]] = defaultdict(set)
        self.codes: dict[str, set[str]] = defaultdict(set)

    def add(self, study: str, status: str, exam: dict[str, Any] | None, codes: list[str]) -> None:
        self.statuses[study][status] += 1
        if exam is not None:
            self.exam_ids[study].add(exam["id"])
        self.codes[study].update(codes)

    @property
    def accepted(self) -> int:
        return sum(c["ACCEPTED"] for c in self.statuses.values())

    def assert_each_study_accepted_once(self, already: set[str]) -> None:
        for study, counts in self.statuses.items():
            if counts["REFUSED"]:
                continue
            expected = 0 if study in already else 1
            assert counts["ACCEPTED"] == expected, (study, counts)
            assert len(self.exam_ids[study]) == 1, (study, self.exam_ids[study])


async def upload_round(
    api: Api, gateways: list[Gateway], plan: list[str], answers: Answers
) -> list[dict[str, Any]]:
    calls = [
        api.gateway(
            gateways[(i + i // FRESH) % GATEWAYS],  # a repeat comes from another institution
            UPLOAD,
            {"inst": gateways[(i + i // FRESH) % GATEWAYS].id, "uid": study},
        )
        for i, study in enumerate(plan)
    ]
    results = [r["recordExamUpload"] for r in await asyncio.gather(*calls)]
    for study, result in zip(plan, results, strict=True):
        codes = [e["code"] for e in result["userErrors"]]
        answers.add(study, result["status"], result["exam"], codes)
    return results


async def test_32_concurrent_uploaders_with_duplicates_run_a_lot_out_into_arrears(
    services: Services, api: Api, clock: ManualClock
) -> None:
    """R-EXAM-4 / R-ARR-1 / R-ARR-3 / R-GEN-7 under concurrency: each study is accepted once,
    the nearly exhausted lot is never over-drawn, the rest goes into arrears, and once the
    arrears are 24 h old new studies are refused while repeats stay duplicates."""
    # given an account with one lot of which 20 exams are left, and four gateways
    account = await create_account(services)
    gateways = [await create_institution(services, account, name=f"Site {n}") for n in range(4)]
    await credit_lot(services, account)
    setup = [uid(99, n) for n in range(PRECONSUMED)]
    await consume(services, account, gateways[0], setup)
    answers = Answers()
    previous = setup
    # when 32 gateways upload at once, three rounds an hour apart
    arrears_started = None
    for round_no in range(3):
        plan = round_plan(round_no, previous)
        await upload_round(api, gateways, plan, answers)
        previous = plan[:FRESH]
        if round_no == 1:
            arrears_started = clock.now()
        clock.advance(timedelta(hours=1))
    # then every study was accepted exactly once and the lot covered exactly its 20
    answers.assert_each_study_accepted_once(set(setup))
    assert answers.accepted == 3 * FRESH
    figures, lot_rows, exam_count, found = await state(services, account)
    assert [(lot.quantity, lot.used) for lot in lot_rows] == [(10_000, 10_000)]
    assert figures == ExamFigures(available=0, used=10_000, arrears=28, expired=0, bought=10_000)
    assert answers.accepted + PRECONSUMED == figures.used + figures.arrears == exam_count
    assert found == []

    # when, 24 hours after the arrears started, another round arrives at once
    assert arrears_started is not None
    clock.set(arrears_started + timedelta(hours=24))
    plan = round_plan(3, previous)
    results = await upload_round(api, gateways, plan, answers)
    # then new studies are refused and not recorded; repeats are still the same exams
    for study, result in zip(plan, results, strict=True):
        if study in previous:
            assert result["status"] == "DUPLICATE", result
        else:
            assert result["status"] == "REFUSED", result
            assert result["exam"] is None
            assert [e["code"] for e in result["userErrors"]] == ["R_ARR_3_SUSPENDED"]
    answers.assert_each_study_accepted_once(set(setup))
    after, lot_rows, exam_count, found = await state(services, account)
    assert after == figures
    assert all(lot.used <= lot.quantity for lot in lot_rows)
    assert exam_count == PRECONSUMED + 3 * FRESH
    assert found == []


async def test_concurrent_batches_with_overlapping_studies_and_retried_keys(
    services: Services, api: Api, clock: ManualClock
) -> None:
    """R-EXAM-4 with recordExamUploads: 16 batches at once, each also retried at once under
    its idempotency key; studies overlap within and across batches. Each study is accepted
    once, a retry gets exactly the first answer, and the lot is not over-drawn."""
    # given an account with 30 exams left on its lot, and four gateways
    account = await create_account(services)
    gateways = [await create_institution(services, account, name=f"Site {n}") for n in range(4)]
    await credit_lot(services, account)
    await consume(services, account, gateways[0], [uid(99, n) for n in range(9_970)])
    answers = Answers()
    batches_per_round, size = 16, 10
    for round_no in range(3):
        # when 16 batches (each sent twice, as a gateway retrying) arrive at once
        batches = []
        for b in range(batches_per_round):
            # 10 items: 6 of the batch's own, 1 repeated inside it, 3 shared with the next batch
            own = [uid(round_no, b * 10 + n) for n in range(6)]
            shared = [uid(round_no, ((b + 1) % batches_per_round) * 10 + n) for n in range(3)]
            items = own + [own[0]] + shared
            assert len(items) == size
            batches.append((gateways[b % GATEWAYS], items, f"r{round_no}-b{b}"))
        calls = [
            api.gateway(
                gw,
                UPLOADS,
                {
                    "inst": gw.id,
                    "items": [{"studyInstanceUid": s} for s in items],
                    "key": key,
                },
            )
            for gw, items, key in batches
            for _ in range(2)
        ]
        responses = [r["recordExamUploads"] for r in await asyncio.gather(*calls)]
        # then a retry's answer is the first answer, and counts match the results
        for n, (_, items, _) in enumerate(batches):
            first, retry = responses[2 * n], responses[2 * n + 1]
            assert first == retry
            assert first["userErrors"] == []
            statuses = [r["status"] for r in first["results"]]
            assert [r["studyInstanceUid"] for r in first["results"]] == items
            assert first["accepted"] == statuses.count("ACCEPTED")
            assert first["duplicates"] == statuses.count("DUPLICATE")
            assert first["refused"] == statuses.count("REFUSED") == 0
            assert statuses[6] == "DUPLICATE"  # the repeat inside the batch
            for item, result in zip(items, first["results"], strict=True):
                answers.add(item, result["status"], result["exam"], [])
        clock.advance(timedelta(hours=1))
    # then every study was accepted exactly once across all batches
    answers.assert_each_study_accepted_once(set())
    distinct = 3 * batches_per_round * 6
    assert answers.accepted == distinct
    figures, lot_rows, exam_count, found = await state(services, account)
    assert [(lot.quantity, lot.used) for lot in lot_rows] == [(10_000, 10_000)]
    assert figures.arrears == distinct - 30
    assert answers.accepted + 9_970 == figures.used + figures.arrears == exam_count
    assert found == []


async def test_recharge_racing_concurrent_uploads_settles_every_arrears_exam(
    services: Services, api: Api, clock: ManualClock
) -> None:
    """R-ARR-4 racing R-ARR-1: an operator credits a lot while 32 gateways upload. Whether an
    upload lands before or after the credit, it ends up covered exactly once: the credit
    settles the arrears it finds, later uploads draw from the rest; nothing is left in
    arrears and the figures reconcile."""
    # given an account in arrears from a first round of uploads
    account = await create_account(services)
    gateways = [await create_institution(services, account, name=f"Site {n}") for n in range(4)]
    token = await create_operator_token(services)
    acc_id = str(encode("Account", account))
    answers = Answers()
    await upload_round(api, gateways, round_plan(0, []), answers)
    previous = round_plan(0, [])[:FRESH]
    clock.advance(timedelta(hours=1))
    settled_total = 0
    for round_no in (1, 2):
        # when a round of 32 uploads races an operator's credit of a 10,000 lot
        plan = round_plan(round_no, previous)
        uploads = upload_round(api, gateways, plan, answers)
        credit = api.operator(token, CREDIT, {"acc": acc_id})
        _, credited = await asyncio.gather(uploads, credit)
        previous = plan[:FRESH]
        result = credited["creditExamLot"]
        assert result["userErrors"] == []
        settled_total += result["settled"]
        clock.advance(timedelta(hours=1))
    # then each study was accepted once and everything is covered
    answers.assert_each_study_accepted_once(set())
    assert answers.accepted == 3 * FRESH
    figures, lot_rows, exam_count, found = await state(services, account)
    assert figures == ExamFigures(
        available=20_000 - 3 * FRESH, used=3 * FRESH, arrears=0, expired=0, bought=20_000
    )
    assert answers.accepted == figures.used + figures.arrears == exam_count
    # the first credit settled at least the first round's arrears, at most all it saw
    assert FRESH <= settled_total <= 2 * FRESH
    assert all(0 <= lot.used <= lot.quantity for lot in lot_rows)
    async with services.db.read() as conn:
        row = await accounts.get_account(conn, account)
    assert row is not None
    assert row.arrears_count == 0
    assert row.arrears_since is None
    assert found == []


async def test_a_credit_retried_concurrently_under_its_key_credits_one_lot(
    services: Services, api: Api
) -> None:
    """Idempotency of creditExamLot (R-GEN-7: one purchase, one PURCHASE entry): the operator
    console's retry racing the original request gets the same lot, not a second one and not
    an error."""
    # given an account and an operator
    account = await create_account(services)
    token = await create_operator_token(services)
    acc_id = str(encode("Account", account))
    # when the same credit is sent eight times at once under one key
    calls = [api.operator(token, CREDIT, {"acc": acc_id, "key": "po-7781"}) for _ in range(8)]
    results = [r["creditExamLot"] for r in await asyncio.gather(*calls)]
    # then all eight answers name the same lot and one lot was bought
    assert {r["lot"]["id"] for r in results} == {results[0]["lot"]["id"]}
    figures, lot_rows, _, found = await state(services, account)
    assert figures.bought == 10_000
    assert len(lot_rows) == 1
    assert found == []


VOID = """
mutation($exam: ID!, $key: String) {
  voidExam(examId: $exam, reason: "reported twice by the modality", idempotencyKey: $key) {
    exam { id voidedAt }
    userErrors { code }
  }
}"""


async def test_concurrent_voids_of_one_exam_void_it_once(services: Services, api: Api) -> None:
    """Two operators voiding the same exam at once: one VOID entry; the others are told
    EXAM_ALREADY_VOIDED; the credit goes back once (R-GEN-7)."""
    # given an account with two exams drawn from a lot
    account = await create_account(services)
    gateway = await create_institution(services, account)
    await credit_lot(services, account)
    token = await create_operator_token(services)
    exam_id, _ = await consume(services, account, gateway, [uid(97, 1), uid(97, 2)])
    # when six voids of the first exam arrive at once
    calls = [api.operator(token, VOID, {"exam": exam_id}) for _ in range(6)]
    results = [r["voidExam"] for r in await asyncio.gather(*calls)]
    # then exactly one succeeded, the rest were refused, and the lot got one credit back
    succeeded = [r for r in results if not r["userErrors"]]
    refused = [r["userErrors"][0]["code"] for r in results if r["userErrors"]]
    assert len(succeeded) == 1
    assert refused == ["EXAM_ALREADY_VOIDED"] * 5
    figures, _, _, found = await state(services, account)
    assert (figures.used, figures.available) == (1, 9_999)
    assert found == []


async def test_a_void_retried_concurrently_under_its_key_gets_the_first_answer(
    services: Services, api: Api
) -> None:
    """Idempotency of voidExam: a retry racing the original, under the same key, replays the
    first answer (the voided exam) rather than a refusal or an error."""
    # given an account with one exam
    account = await create_account(services)
    gateway = await create_institution(services, account)
    await credit_lot(services, account)
    token = await create_operator_token(services)
    [exam_id] = await consume(services, account, gateway, [uid(97, 1)])
    # when the same void is sent eight times at once under one key
    calls = [api.operator(token, VOID, {"exam": exam_id, "key": "void-1"}) for _ in range(8)]
    results = [r["voidExam"] for r in await asyncio.gather(*calls)]
    # then every answer is the voided exam
    assert all(r["userErrors"] == [] for r in results), results
    assert {r["exam"]["id"] for r in results} == {exam_id}
    figures, _, _, found = await state(services, account)
    assert figures.used == 0
    assert found == []
