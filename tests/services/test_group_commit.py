"""The group commit (services/group_commit.py): upload requests waiting together share one
transaction, each keeps its own answer, idempotency keys hold inside a batch
(R-EXAM-4), and an audit record handed in with a request is committed with its answer,
or, when the request fails unexpectedly, not at all (the caller keeps it).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import sqlalchemy as sa

from imaging_billing.api.context import Services
from imaging_billing.domain.errors import RuleViolation
from imaging_billing.services import group_commit as group_commit_module
from imaging_billing.services.group_commit import PendingAudit
from imaging_billing.services.steps.uploads import UploadItem, UploadOutcome, UploadRequest
from imaging_billing.store.access_tables import audit_record
from imaging_billing.store.tables import exam

from ..factories import create_account, create_institution, credit_lot
from ..support import Api


async def a_site(services: Services) -> tuple[int, int]:
    account = await create_account(services)
    await credit_lot(services, account)
    return account, (await create_institution(services, account)).institution_pk


def request(account: int, institution: int, *uids: str, key: str | None = None) -> UploadRequest:
    return UploadRequest(
        account_id=account,
        items=[UploadItem(institution, uid) for uid in uids],
        scope=f"institution:{institution}",
        operation="recordExamUploads",
        key=key,
    )


def audit(operation: str) -> PendingAudit:
    return PendingAudit(
        {
            "principal": "institution:1",
            "role": "INSTITUTION",
            "account_id": None,
            "operation": operation,
            "arguments": "{}",
            "request_id": operation,
        }
    )


def answered(answer: list[UploadOutcome] | RuleViolation) -> list[tuple[str, int | None]]:
    """Each outcome's status and exam, from a request answered item by item."""
    assert isinstance(answer, list), answer
    return [(o.status.value, o.exam.id if o.exam is not None else None) for o in answer]


async def audit_results(services: Services) -> dict[str, str]:
    async with services.db.read() as conn:
        rows = (await conn.execute(sa.select(audit_record))).all()
    return {row.operation: row.result for row in rows}


async def exam_count(services: Services) -> int:
    async with services.db.read() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(exam))).scalar_one())


async def test_requests_waiting_together_each_get_their_answer_and_keys_hold_in_the_batch(
    services: Services,
) -> None:
    # given an account with credit and requests queued at once: two without a key that
    # share a study, a keyed one, its retry, and the same key used for other studies
    account, site = await a_site(services)
    commit = services.group_commit
    # when they are submitted together (one batch: the writer lingers for the others)
    answers = await asyncio.gather(
        commit.submit(request(account, site, "1.1", "1.2"), audit("plain")),
        commit.submit(request(account, site, "1.2", "1.3")),
        commit.submit(request(account, site, "2.1", key="k")),
        commit.submit(request(account, site, "2.1", key="k")),
        commit.submit(request(account, site, "9.9", key="k"), audit("reused")),
    )
    plain, overlapping, keyed, retried, reused = answers
    # then each request is answered in order, the shared study accepted once
    (one, shared), (again, three) = answered(plain), answered(overlapping)
    assert [one[0], shared[0], again[0], three[0]] == [
        "ACCEPTED",
        "ACCEPTED",
        "DUPLICATE",
        "ACCEPTED",
    ]
    assert again[1] == shared[1]
    # and the retry under the key gets the first answer again, the same exam
    assert answered(retried) == answered(keyed)
    assert answered(keyed)[0][0] == "ACCEPTED"
    # while the key used for another request refuses that request alone, as a value
    assert isinstance(reused, RuleViolation)
    assert reused.code == "IDEMPOTENCY_KEY_REUSED"
    # and only the accepted studies were recorded, the audit records with their outcomes
    assert await exam_count(services) == 4
    assert await audit_results(services) == {"plain": "ok", "reused": "IDEMPOTENCY_KEY_REUSED"}


async def test_a_key_recorded_by_an_earlier_commit_is_replayed(services: Services) -> None:
    account, site = await a_site(services)
    first = await services.group_commit.submit(request(account, site, "3.1", "3.2", key="k"))
    again = await services.group_commit.submit(request(account, site, "3.1", "3.2", key="k"))
    other = await services.group_commit.submit(request(account, site, "3.3", key="k"))
    assert answered(again) == answered(first)
    assert isinstance(other, RuleViolation)
    assert other.code == "IDEMPOTENCY_KEY_REUSED"
    assert await exam_count(services) == 2


async def test_a_request_that_fails_unexpectedly_fails_alone_and_commits_no_audit_record(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given two accounts, the second of which breaks the transaction it is recorded in
    good, good_site = await a_site(services)
    bad, bad_site = await a_site(services)
    record = group_commit_module.record_requests

    async def breaking(conn: Any, account_id: int, requests: Any, now: Any) -> Any:
        if account_id == bad:
            raise RuntimeError("disk on fire")
        return await record(conn, account_id, requests, now)

    monkeypatch.setattr(group_commit_module, "record_requests", breaking)
    # when both are submitted together, each with its audit record
    fine, broken = await asyncio.gather(
        services.group_commit.submit(request(good, good_site, "4.1"), audit("fine")),
        services.group_commit.submit(request(bad, bad_site, "4.2"), audit("broken")),
        return_exceptions=True,
    )
    # then the good request is recorded with its audit record, retried on its own
    assert [status for status, _ in answered(fine)] == ["ACCEPTED"]
    # and the broken one raises, leaving its audit record uncommitted for the caller
    assert isinstance(broken, RuntimeError)
    assert await audit_results(services) == {"fine": "ok"}
    assert await exam_count(services) == 1


UPLOAD = """mutation($inst: ID!, $uid: String!) {
  recordExamUpload(institutionId: $inst, studyInstanceUid: $uid) { status }
}"""


async def test_the_api_writes_the_audit_record_the_use_case_did_not_commit(
    services: Services, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a gateway whose first upload is recorded, its audit record with it
    account = await create_account(services)
    gateway = await create_institution(services, account)
    done = await api.gateway(gateway, UPLOAD, {"inst": gateway.id, "uid": "5.1"})
    assert done["recordExamUpload"]["status"] == "ACCEPTED"  # into arrears (R-ARR-1)

    # when the next upload's transaction fails unexpectedly
    async def breaking(*_: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(group_commit_module, "record_requests", breaking)
    body = json.dumps({"query": UPLOAD, "variables": {"inst": gateway.id, "uid": "5.2"}})
    response = await api.client.post(
        "/graphql", content=body, headers=gateway.headers(body.encode(), services.clock.now())
    )
    # then the caller gets an error, and the audit trail still records the attempt, once
    assert response.json()["errors"]
    async with services.db.read() as conn:
        rows = (await conn.execute(sa.select(audit_record).order_by(audit_record.c.id))).all()
    assert [(row.operation, row.result) for row in rows] == [
        ("recordExamUpload", "ok"),
        ("recordExamUpload", "ERROR"),
    ]
