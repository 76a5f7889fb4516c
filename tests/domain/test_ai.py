"""AI reading rules: pack terms, use-by date, draw order, allocation, figures and the
plan of a batch of reads (R-AI-1..4, R-GEN-6)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imaging_billing.domain.ai import (
    AiPack,
    AiReadItem,
    PriorRead,
    ReadDecision,
    ReadStatus,
    allocate,
    draw_order,
    figures,
    low_crossed,
    low_threshold,
    pack_expires_at,
    pack_quantity,
    plan_reads,
)
from imaging_billing.domain.catalog import AiProduct
from imaging_billing.domain.errors import RuleViolation

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
MS = timedelta(milliseconds=1)
GLAUCOMA = AiProduct.GLAUCOMA
PROPS = settings(max_examples=200, deadline=None)


def make_pack(
    pack_id: int,
    *,
    quantity: int = 10,
    used: int = 0,
    purchased_at: datetime = NOW - timedelta(days=30),
    expires_at: datetime | None = None,
) -> AiPack:
    return AiPack(
        id=pack_id,
        product=GLAUCOMA,
        quantity=quantity,
        used=used,
        purchased_at=purchased_at,
        expires_at=expires_at if expires_at is not None else pack_expires_at(purchased_at),
    )


def read(key: str, uid: str = "1.2.3", product: AiProduct = GLAUCOMA) -> AiReadItem:
    return AiReadItem(product, uid, key)


def code_of(decision: ReadDecision) -> str | None:
    return decision.error.code if decision.error is not None else None


# --- pack terms (R-AI-1) ----------------------------------------------------------------


@pytest.mark.parametrize("quantity", [1_000, 2_000, 50_000])
def test_r_ai_1_packs_are_whole_thousands(quantity: int) -> None:
    # given a glaucoma pack in whole 1,000s / then it is accepted as is
    assert pack_quantity(GLAUCOMA, quantity) == quantity


@pytest.mark.parametrize("quantity", [0, -1_000, 999, 1_500, 10_001])
def test_r_ai_1_other_quantities_are_refused(quantity: int) -> None:
    # given a quantity that is not a positive multiple of 1,000
    with pytest.raises(RuleViolation) as refused:
        pack_quantity(GLAUCOMA, quantity)
    # then the refusal names the rule and the field
    assert (refused.value.code, refused.value.field) == ("R_AI_1_UNIT", "quantity")


@pytest.mark.parametrize("product", [AiProduct.PNEUMONIA, AiProduct.COLORECTAL])
def test_r_ai_1_packs_exist_for_glaucoma_only(product: AiProduct) -> None:
    with pytest.raises(RuleViolation) as refused:
        pack_quantity(product, 1_000)
    assert refused.value.code == "R_AI_1_PRODUCT"
    assert refused.value.message_en
    assert refused.value.message_zh


@pytest.mark.parametrize(
    ("purchased", "expires"),
    [
        (datetime(2026, 3, 1, 8, 0, tzinfo=UTC), datetime(2027, 3, 1, 8, 0, tzinfo=UTC)),
        (datetime(2028, 2, 29, 23, 30, tzinfo=UTC), datetime(2029, 2, 28, 23, 30, tzinfo=UTC)),
    ],
)
def test_r_ai_1_a_pack_expires_one_calendar_year_after_purchase(
    purchased: datetime, expires: datetime
) -> None:
    assert pack_expires_at(purchased) == expires


def test_a_pack_is_expired_from_the_expiry_instant_itself() -> None:
    pack = make_pack(1)
    assert pack.usable(pack.expires_at - MS)
    assert pack.expired(pack.expires_at)
    assert not pack.usable(pack.expires_at)


# --- draw order and allocation (R-AI-2, R-AI-3) -----------------------------------------


def test_r_ai_2_draw_order_is_soonest_expiry_then_purchase_then_id() -> None:
    # given packs tied on expiry but not on purchase, and tied on both
    expiry = NOW + timedelta(days=10)
    late = make_pack(1, purchased_at=NOW - HOUR, expires_at=expiry)
    early = make_pack(2, purchased_at=NOW - 2 * HOUR, expires_at=expiry)
    twin = make_pack(3, purchased_at=NOW - 2 * HOUR, expires_at=expiry)
    soonest = make_pack(9, expires_at=NOW + timedelta(days=1))
    # then the soonest-expiring comes first, then the earlier purchase, then the lower id
    assert [p.id for p in draw_order([late, twin, early, soonest])] == [9, 2, 3, 1]


def test_r_ai_2_allocation_drains_the_soonest_expiring_pack_first() -> None:
    first = make_pack(7, quantity=3, used=1, expires_at=NOW + timedelta(days=1))
    second = make_pack(4, quantity=5, expires_at=NOW + timedelta(days=2))
    assert allocate([second, first], 4, NOW) == [7, 7, 4, 4]


def test_r_ai_3_allocation_stops_where_credit_runs_out() -> None:
    # given 2 credits in a live pack, 5 in an expired one / when 4 reads are allocated
    live = make_pack(1, quantity=2)
    gone = make_pack(2, quantity=5, expires_at=NOW)
    # then only 2 are covered: no arrears, the caller refuses the rest
    assert allocate([live, gone], 4, NOW) == [1, 1]


def test_r_ai_5_figures_are_right_before_a_sweep() -> None:
    # given a live pack and one that expired a millisecond ago, never swept
    live = make_pack(1, quantity=1_000, used=300)
    gone = make_pack(2, quantity=2_000, used=500, expires_at=NOW - MS)
    result = figures(GLAUCOMA, [live, gone], NOW, licensed_institutions=1)
    assert (result.remaining, result.bought, result.used, result.expired) == (
        700,
        3_000,
        800,
        1_500,
    )
    assert result.licensed_institutions == 1


_instants = st.integers(min_value=0, max_value=6).map(lambda h: NOW + h * HOUR)


@st.composite
def packs(draw: st.DrawFn) -> list[AiPack]:
    result = []
    for pack_id in draw(st.lists(st.integers(1, 50), unique=True, max_size=8)):
        quantity = draw(st.integers(1, 6))
        purchased_at = draw(_instants)
        result.append(
            AiPack(
                id=pack_id,
                product=GLAUCOMA,
                quantity=quantity,
                used=draw(st.integers(0, quantity)),
                purchased_at=purchased_at,
                expires_at=purchased_at + draw(st.integers(0, 6)) * HOUR,
            )
        )
    return result


_now = st.integers(min_value=0, max_value=13).map(lambda h: NOW + h * HOUR)


@PROPS
@given(packs(), st.integers(0, 40), _now)
def test_allocation_never_overdraws_and_takes_soonest_expiring_first(
    stock: list[AiPack], count: int, now: datetime
) -> None:
    draws = allocate(stock, count, now)
    by_id = {p.id: p for p in stock}
    usable = sum(p.remaining for p in stock if p.usable(now))
    # never more than asked, never more than usable, and all of it when enough is there
    assert len(draws) == min(count, usable)
    for pack_id, taken in Counter(draws).items():
        assert by_id[pack_id].usable(now)
        assert taken <= by_id[pack_id].remaining
    # draws follow the draw order, and a pack is only left for a later one once empty
    rank = {p.id: i for i, p in enumerate(draw_order(stock))}
    assert [rank[d] for d in draws] == sorted(rank[d] for d in draws)
    taken = Counter(draws)
    for emptied in set(draws) - set(draws[-1:]):
        assert taken[emptied] == by_id[emptied].remaining


@PROPS
@given(packs(), _now)
def test_figures_always_balance(stock: list[AiPack], now: datetime) -> None:
    result = figures(GLAUCOMA, stock, now)
    assert result.bought == result.remaining + result.used + result.expired


# --- the plan of a batch of reads (R-AI-2..4) -------------------------------------------


def test_a_licence_covers_its_product_and_draws_nothing() -> None:
    items = [read("a", product=AiProduct.PNEUMONIA), read("b")]
    plan = plan_reads(
        items,
        institution_id=1,
        prior={},
        licences={AiProduct.PNEUMONIA: 5, GLAUCOMA: 6},
        packs=[make_pack(1)],
        now=NOW,
    )
    assert [(d.status, d.licence_id, d.pack_id) for d in plan] == [
        (ReadStatus.ACCEPTED, 5, None),
        (ReadStatus.ACCEPTED, 6, None),
    ]


@pytest.mark.parametrize("product", [AiProduct.PNEUMONIA, AiProduct.COLORECTAL])
def test_r_ai_3_a_product_without_packs_needs_a_licence(product: AiProduct) -> None:
    plan = plan_reads(
        [read("a", product=product)],
        institution_id=1,
        prior={},
        licences={},
        packs=[make_pack(1)],
        now=NOW,
    )
    assert plan[0].status is ReadStatus.REFUSED
    assert code_of(plan[0]) == "R_AI_3_NO_CREDIT"


def test_reads_beyond_the_credit_are_refused_in_order() -> None:
    plan = plan_reads(
        [read("a"), read("b"), read("c")],
        institution_id=1,
        prior={},
        licences={},
        packs=[make_pack(1, quantity=2)],
        now=NOW,
    )
    assert [d.status for d in plan] == [ReadStatus.ACCEPTED] * 2 + [ReadStatus.REFUSED]


def test_r_ai_2_the_same_key_again_draws_nothing_more() -> None:
    # given a read stored under key "a" and a batch repeating "b" twice
    stored = {"a": PriorRead(40, 1, GLAUCOMA, "1.2.3")}
    items = [read("a"), read("b"), read("b")]
    plan = plan_reads(
        items, institution_id=1, prior=stored, licences={}, packs=[make_pack(1)], now=NOW
    )
    # then only the first "b" draws; the others repeat the read they name
    assert [d.status for d in plan] == [
        ReadStatus.DUPLICATE,
        ReadStatus.ACCEPTED,
        ReadStatus.DUPLICATE,
    ]
    assert (plan[0].prior_id, plan[2].first_index) == (40, 1)
    assert [d.pack_id for d in plan] == [None, 1, None]


@pytest.mark.parametrize(
    "stored",
    [
        PriorRead(40, 1, GLAUCOMA, "9.9"),  # another study
        PriorRead(40, 1, AiProduct.PNEUMONIA, "1.2.3"),  # another product
        PriorRead(40, 2, GLAUCOMA, "1.2.3"),  # another institution of the account
    ],
)
def test_a_key_reused_for_another_read_is_refused(stored: PriorRead) -> None:
    plan = plan_reads(
        [read("a")], institution_id=1, prior={"a": stored}, licences={}, packs=[], now=NOW
    )
    assert plan[0].error is not None
    assert (plan[0].error.code, plan[0].error.field) == ("IDEMPOTENCY_KEY_REUSED", "idempotencyKey")


def test_a_key_reused_in_the_batch_for_another_study_is_refused() -> None:
    plan = plan_reads(
        [read("a"), read("a", uid="4.5")],
        institution_id=1,
        prior={},
        licences={},
        packs=[make_pack(1)],
        now=NOW,
    )
    assert code_of(plan[1]) == "IDEMPOTENCY_KEY_REUSED"


@pytest.mark.parametrize(
    ("item", "code"),
    [
        (read("a", uid="not-a-uid"), "R_EXAM_4_STUDY_UID"),
        (read(""), "IDEMPOTENCY_KEY_INVALID"),
        (read("k" * 201), "IDEMPOTENCY_KEY_INVALID"),
    ],
)
def test_invalid_reads_are_refused_without_drawing(item: AiReadItem, code: str) -> None:
    plan = plan_reads(
        [item, read("b")],
        institution_id=1,
        prior={},
        licences={},
        packs=[make_pack(1, quantity=1)],
        now=NOW,
    )
    assert code_of(plan[0]) == code
    assert plan[1].pack_id == 1  # the one credit is still there for the valid read


@PROPS
@given(packs(), st.lists(st.sampled_from("abcdefgh"), max_size=30), _now)
def test_a_plan_draws_once_per_new_key_and_never_overdraws(
    stock: list[AiPack], keys: list[str], now: datetime
) -> None:
    plan = plan_reads(
        [read(k) for k in keys], institution_id=1, prior={}, licences={}, packs=stock, now=now
    )
    drawn = [d.pack_id for d in plan if d.pack_id is not None]
    assert drawn == allocate(stock, len(set(keys)), now)
    accepted = [k for k, d in zip(keys, plan, strict=True) if d.status is ReadStatus.ACCEPTED]
    assert len(accepted) == len(set(accepted))


def test_ai_credit_is_low_once_per_crossing_of_a_tenth_of_the_newest_pack() -> None:
    # given packs of 1,000 and 2,000 reads, the 2,000 bought later
    now = datetime(2026, 3, 1, tzinfo=UTC)
    packs = [
        AiPack(1, AiProduct.GLAUCOMA, 1_000, 0, now - timedelta(days=9), now + timedelta(days=300)),
        AiPack(2, AiProduct.GLAUCOMA, 2_000, 0, now - timedelta(days=1), now + timedelta(days=360)),
    ]
    # then the threshold is 10 % of the newest, and only a crossing is a notice
    threshold = low_threshold(packs)
    assert threshold == 200
    assert low_crossed(before=201, after=200, threshold=threshold)
    assert low_crossed(before=3_000, after=0, threshold=threshold)
    assert not low_crossed(before=500, after=201, threshold=threshold)
    assert not low_crossed(before=200, after=150, threshold=threshold)
    assert low_threshold([]) == 0
