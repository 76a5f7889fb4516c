"""AI reading rules: packs, their use-by date, draw order and the plan of a batch of
reads (R-AI-1..4).

Everything here is pure: callers load packs, licences and earlier reads, pass `now`,
and persist what comes back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from itertools import chain, repeat

from .catalog import AiProduct
from .clock import add_years
from .errors import RuleViolation
from .exams import validate_study_uid
from .ledger import LedgerType
from .prepaid import PrepaidCredit
from .prepaid import draw_order as draw_order  # R-AI-2, beside the other rules

PACK_UNIT = 1_000  # R-AI-1: whole 1,000s of reads
PACK_USE_BY_YEARS = 1  # R-AI-1
PACK_PRODUCTS = (AiProduct.GLAUCOMA,)  # R-AI-1: packs are sold for glaucoma AI only
MAX_KEY_LENGTH = 200  # the width of ai_read.idempotency_key, as for other idempotency keys


class ReadStatus(StrEnum):
    ACCEPTED = "ACCEPTED"
    DUPLICATE = "DUPLICATE"
    REFUSED = "REFUSED"


class ReadCover(StrEnum):
    PACK = "PACK"
    LICENCE = "LICENCE"


@dataclass(frozen=True)
class AiPack(PrepaidCredit):
    """A pack as the rules see it. `used` counts the reads drawn from it."""

    id: int
    product: AiProduct
    quantity: int
    used: int
    purchased_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class AiFigures:
    """R-AI-5 for one product. bought = remaining + used + expired always holds;
    reads covered by a licence draw nothing and so are not in `used`: they are counted
    apart, in `licence_reads` (R-AI-4)."""

    product: AiProduct
    remaining: int
    bought: int
    used: int
    expired: int
    licensed_institutions: int
    licence_reads: int = 0


def pack_quantity(product: AiProduct, quantity: int) -> int:
    """Validate a pack purchase (R-AI-1) and return its number of reads."""
    if product not in PACK_PRODUCTS:
        raise RuleViolation("R_AI_1_PRODUCT", "product")
    if quantity < PACK_UNIT or quantity % PACK_UNIT:
        raise RuleViolation("R_AI_1_UNIT", "quantity")
    return quantity


def pack_expires_at(purchased_at: datetime) -> datetime:
    """R-AI-1: the same instant one calendar year after purchase (R-GEN-6)."""
    return add_years(purchased_at, PACK_USE_BY_YEARS)


def credits(packs: Iterable[AiPack], now: datetime) -> Iterator[int]:
    """One pack id per read credit usable at `now`, in draw order; lazy, so a large
    pack costs nothing until drawn."""
    usable = draw_order(pack for pack in packs if pack.usable(now))
    return chain.from_iterable(repeat(pack.id, pack.remaining) for pack in usable)


def allocate(packs: Iterable[AiPack], count: int, now: datetime) -> list[int]:
    """The packs that cover `count` reads made at `now`, in order.

    Shorter than `count` when credit runs out: there are no AI arrears (R-AI-3),
    so the caller refuses the reads left over.
    """
    draws: list[int] = []
    for pack_id in credits(packs, now):
        if len(draws) == count:
            break
        draws.append(pack_id)
    return draws


def low_threshold(packs: Sequence[AiPack]) -> int:
    """R-ARR-2 decision carried over to AI reads: credit is low at 10 % of the newest
    usable pack (as for exams with no configured threshold: 10 % of the last lot)."""
    newest = max(packs, key=lambda p: (p.purchased_at, p.id), default=None)
    return 0 if newest is None else newest.quantity // 10


def low_crossed(*, before: int, after: int, threshold: int) -> bool:
    """An `ai_pack.low` notice is due when reads take the remaining credit from above
    the threshold to it or below: once per crossing; a purchase lifts it back above
    the threshold and so re-arms it. There are no AI arrears (R-AI-3), so running out
    is the same notice."""
    return before > threshold >= after


def figures(
    product: AiProduct,
    packs: Sequence[AiPack],
    now: datetime,
    licensed_institutions: int = 0,
    licence_reads: int = 0,
) -> AiFigures:
    """R-AI-5, right at any instant, before or after an expiry sweep."""
    mine = [pack for pack in packs if pack.product is product]
    return AiFigures(
        product=product,
        remaining=sum(pack.remaining for pack in mine if not pack.expired(now)),
        bought=sum(pack.quantity for pack in mine),
        used=sum(pack.used for pack in mine),
        expired=sum(pack.remaining for pack in mine if pack.expired(now)),
        licensed_institutions=licensed_institutions,
        licence_reads=licence_reads,
    )


def ledger_entry(
    type_: LedgerType,
    *,
    account_id: int,
    pack_id: int,
    quantity: int,
    now: datetime,
    actor: str,
    read_id: int | None = None,
    reason: str | None = None,
) -> dict[str, object]:
    """One AI ledger row (R-GEN-7): the signed change of the pack's remainder."""
    return {
        "account_id": account_id,
        "type": type_.value,
        "pack_id": pack_id,
        "read_id": read_id,
        "quantity": quantity,
        "occurred_at": now,
        "actor": actor,
        "reason": reason,
    }


# --- reads -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AiReadItem:
    """One read as an institution reports it."""

    product: AiProduct
    study_uid: str
    idempotency_key: str


@dataclass(frozen=True)
class PriorRead:
    """A read already recorded under an idempotency key of the account."""

    id: int
    institution_id: int
    product: AiProduct
    study_uid: str


@dataclass(frozen=True)
class ReadDecision:
    """What becomes of one item. A DUPLICATE names the read it repeats: a stored one
    (`prior_id`) or the accepted item earlier in the same batch (`first_index`)."""

    status: ReadStatus
    pack_id: int | None = None
    licence_id: int | None = None
    prior_id: int | None = None
    first_index: int | None = None
    error: RuleViolation | None = None


def _refused(code: str, field: str | None = None) -> ReadDecision:
    return ReadDecision(ReadStatus.REFUSED, error=RuleViolation(code, field))


def validate_read(item: AiReadItem) -> None:
    if not 0 < len(item.idempotency_key) <= MAX_KEY_LENGTH:
        raise RuleViolation("IDEMPOTENCY_KEY_INVALID", "idempotencyKey")
    validate_study_uid(item.study_uid)


def plan_reads(
    items: Sequence[AiReadItem],
    *,
    institution_id: int,
    prior: Mapping[str, PriorRead],
    licences: Mapping[AiProduct, int],
    packs: Sequence[AiPack],
    now: datetime,
) -> list[ReadDecision]:
    """Decide every read of one institution's batch, in order.

    A licence covers its product's reads without drawing (R-AI-4); otherwise a read
    draws one credit, soonest-expiring pack first (R-AI-2), or is refused when none
    is left (R-AI-3). The same key again is the same answer and draws nothing; the
    same key for a different read is refused.
    """
    credit = {p: credits([k for k in packs if k.product is p], now) for p in PACK_PRODUCTS}
    decisions: list[ReadDecision] = []
    first_of: dict[str, int] = {}
    for index, item in enumerate(items):
        key = item.idempotency_key
        try:
            validate_read(item)
        except RuleViolation as error:
            decisions.append(ReadDecision(ReadStatus.REFUSED, error=error))
            continue
        if key in prior:
            decisions.append(_replay_stored(prior[key], item, institution_id))
        elif key in first_of:
            decisions.append(_replay_batch(items, decisions, first_of[key], item))
        else:
            first_of[key] = index
            decisions.append(_cover(item, licences, credit))
    return decisions


def _replay_stored(read: PriorRead, item: AiReadItem, institution_id: int) -> ReadDecision:
    # The key is the account's; another institution's read under it is another request.
    same = (read.institution_id, read.product, read.study_uid) == (
        institution_id,
        item.product,
        item.study_uid,
    )
    if not same:
        return _refused("IDEMPOTENCY_KEY_REUSED", "idempotencyKey")
    return ReadDecision(ReadStatus.DUPLICATE, prior_id=read.id)


def _replay_batch(
    items: Sequence[AiReadItem], decisions: Sequence[ReadDecision], first: int, item: AiReadItem
) -> ReadDecision:
    earlier = items[first]
    if (earlier.product, earlier.study_uid) != (item.product, item.study_uid):
        return _refused("IDEMPOTENCY_KEY_REUSED", "idempotencyKey")
    if decisions[first].status is ReadStatus.ACCEPTED:
        return ReadDecision(ReadStatus.DUPLICATE, first_index=first)
    return decisions[first]  # refused the first time: the same refusal again


def _cover(
    item: AiReadItem, licences: Mapping[AiProduct, int], credit: Mapping[AiProduct, Iterator[int]]
) -> ReadDecision:
    licence_id = licences.get(item.product)
    if licence_id is not None:
        return ReadDecision(ReadStatus.ACCEPTED, licence_id=licence_id)
    source = credit.get(item.product)  # only glaucoma has packs (R-AI-1)
    pack_id = next(source, None) if source is not None else None
    if pack_id is None:
        return _refused("R_AI_3_NO_CREDIT", "product")
    return ReadDecision(ReadStatus.ACCEPTED, pack_id=pack_id)


def cover_of(pack_id: int | None, licence_id: int | None) -> ReadCover:
    """How a stored read was covered: exactly one of a pack or a licence."""
    if (pack_id is None) == (licence_id is None):
        raise ValueError("a read is covered by exactly one of a pack or a licence")
    return ReadCover.PACK if pack_id is not None else ReadCover.LICENCE
