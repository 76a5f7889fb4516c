"""Licences and services as a principal may read them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Row

from ...domain.entitlements import ServiceState
from ...store import lookups
from .. import entitlements as cases
from ..reader import Reader
from ..reading import may_read
from . import Page


async def licences_of_institutions(
    reader: Reader, institution_ids: Sequence[int]
) -> list[list[Row[Any]]]:
    """R-LIC-5: each institution's licences, in enabling order."""
    found = await reader.run(lookups.licences_of_institutions, institution_ids)
    return [
        [
            r
            for r in found[key]
            if may_read(reader.principal, "Licence", account_id=r.account_id, institution_id=key)
        ]
        for key in institution_ids
    ]


async def services_page(
    reader: Reader,
    *,
    account_id: int | None = None,
    institution_id: int | None = None,
    after_id: int | None,
    limit: int,
    state: ServiceState | None,
    now: datetime,
) -> Page[Row[Any]]:
    """R-SVC-1..4: an account's or an institution's services, in purchase order."""
    if account_id is not None:
        reader.principal.require_account(account_id)
    rows, total = await reader.run(
        cases.page_services,
        account_id=account_id,
        institution_id=institution_id,
        after_id=after_id,
        limit=limit,
        state=state,
        now=now,
    )
    return Page(rows, total)
