"""The commission rules as plain domain functions and aggregate methods: who a sale pays,
what each payee earns, the re-accrual after refunds, the top guides, and what a
period's close posts."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from guideledger.attribution.domain.rules import (
    Attribution,
    AttributionChannel,
    AttributionEvidence,
    Channel,
)
from guideledger.commissions.domain.earnings import (
    CrossBranchShipment,
    OrderFacts,
    accrual_shares,
    earned,
    net_of_returns,
    payees_of,
    pro_rata,
)
from guideledger.commissions.domain.ledger import (
    CommissionAccrual,
    LedgerError,
    StatementLine,
)
from guideledger.commissions.domain.rules import (
    Account,
    Bucket,
    CommissionPolicy,
    Entry,
    Payee,
    PayeeLevel,
    Posting,
    PostingKind,
    RateRule,
    SaleLine,
    expense_account,
)
from guideledger.commissions.domain.settlement import (
    BrandPeriodClose,
    HeldLine,
    SettlementPeriod,
    held_shares,
    top_guides,
)
from guideledger.fulfilment.domain.routing import AllocatedLine, Allocation, RoutingDecision
from guideledger.kernel.privacy import Sealed
from guideledger.kernel.values import GeoPoint
from guideledger.orders.domain.lines import DeliveryAddress, Discount, OrderLine
from guideledger.orders.domain.order import Order
from guideledger.orders.domain.payments import ProviderPayment

NOW = datetime(2026, 12, 1, tzinfo=UTC)
BRAND, STORE, DISTRICT, REGION, BRANCH, OTHER_BRANCH = (uuid4() for _ in range(6))
GUIDE_ID = uuid4()
GUIDE = Payee(PayeeLevel.GUIDE, GUIDE_ID)
STORE_PAYEE = Payee(PayeeLevel.STORE, STORE)
RULES = CommissionPolicy(
    version=3,
    rates=(
        RateRule(PayeeLevel.GUIDE, 300),
        RateRule(PayeeLevel.GUIDE, 500, category="shoes"),
        RateRule(PayeeLevel.STORE, 100),
    ),
    fulfilment_fee_bp=200,
    top_guide_percent=5,
    top_guide_bonus_fen=50_000,
)


def attribution(channel: AttributionChannel, guide_id: UUID | None = GUIDE_ID) -> Attribution:
    return Attribution(
        channel=channel,
        rule="test",
        policy_version=1,
        brand_id=BRAND,
        evidence=AttributionEvidence(Channel.DIRECT),
        guide_id=guide_id,
        store_id=STORE,
        branch_id=BRANCH,
        district_id=DISTRICT,
        region_id=REGION,
    )


def facts(
    *lines: SaleLine,
    cross_branch: tuple[CrossBranchShipment, ...] = (),
    refunded_fen: int = 0,
) -> OrderFacts:
    lines = lines or (SaleLine(20_000, "apparel"), SaleLine(10_000, "shoes"))
    return OrderFacts(
        order_id=uuid4(),
        brand_id=BRAND,
        paid_period="2026-11",
        paid_fen=sum(line.amount_fen for line in lines),
        channel="guide_qr",
        lines=lines,
        payees=(GUIDE, STORE_PAYEE),
        cross_branch=cross_branch,
        refunded_fen=refunded_fen,
    )


# --- who is paid ---------------------------------------------------------------------


def test_a_guides_sale_pays_the_guide_and_every_level_of_their_store() -> None:
    payees = payees_of(attribution(AttributionChannel.GUIDE_QR))
    assert payees == (
        GUIDE,
        STORE_PAYEE,
        Payee(PayeeLevel.DISTRICT, DISTRICT),
        Payee(PayeeLevel.REGION, REGION),
        Payee(PayeeLevel.BRANCH, BRANCH),
    )


def test_a_guide_named_on_a_store_account_order_has_their_share_held_by_the_store() -> None:
    [guide, *_] = payees_of(attribution(AttributionChannel.STORE_ACCOUNT_GUIDE))
    assert guide == Payee(PayeeLevel.GUIDE, GUIDE_ID, held_by_store=STORE)


def test_a_store_only_sale_pays_the_store_and_an_unattributed_one_pays_nobody() -> None:
    store_only = payees_of(attribution(AttributionChannel.STORE_ONLY, guide_id=None))
    assert [p.level for p in store_only] == ["store", "district", "region", "branch"]
    unattributed = Attribution(
        AttributionChannel.UNATTRIBUTED, "none", 1, BRAND, AttributionEvidence(Channel.DIRECT)
    )
    assert payees_of(unattributed) == ()


# --- what each earns -------------------------------------------------------------------


def test_each_payee_earns_the_rate_for_each_lines_category() -> None:
    # guide: 3% of 20,000 + 5% of 10,000; store: 1% of 30,000
    assert earned(facts(), RULES) == {GUIDE: 1100, STORE_PAYEE: 300}


def test_a_branch_shipping_for_another_branchs_sale_earns_the_fulfilment_fee() -> None:
    shipped = (CrossBranchShipment(OTHER_BRANCH, 12_345), CrossBranchShipment(OTHER_BRANCH, 100))
    amounts = earned(facts(cross_branch=shipped), RULES)
    shipper = Payee(PayeeLevel.BRANCH, OTHER_BRANCH)
    assert amounts[shipper] == 247 + 2  # 2% of each shipment, each rounded half up
    assert amounts[GUIDE] == 1100  # the sale's payees earn as before


def test_no_fee_when_the_rules_set_none() -> None:
    no_fee = CommissionPolicy(rates=RULES.rates, fulfilment_fee_bp=0)
    amounts = earned(facts(cross_branch=(CrossBranchShipment(OTHER_BRANCH, 9_999),)), no_fee)
    assert Payee(PayeeLevel.BRANCH, OTHER_BRANCH) not in amounts


def split_order(discounts: tuple[Discount, ...] = ()) -> tuple[Order, UUID, UUID]:
    """Two lines, the second shipped by another branch's warehouse; paid in full."""
    sku_a, sku_b, home_node, far_node = uuid4(), uuid4(), uuid4(), uuid4()
    order = Order.place(
        order_id=uuid4(),
        brand_id=BRAND,
        member_id=uuid4(),
        lines=[OrderLine(1, sku_a, 2, 10_000), OrderLine(2, sku_b, 1, 5_000)],
        delivery=DeliveryAddress(
            Sealed(uuid4(), "x"), GeoPoint(31.2, 121.5), Sealed(uuid4(), "31.2,121.5")
        ),
        evidence=AttributionEvidence(Channel.GUIDE_QR, guide_id=GUIDE_ID),
        payment_window=timedelta(minutes=30),
        occurred_at=NOW,
        actor="test",
        discounts=discounts,
    )
    order.attribute(attribution(AttributionChannel.GUIDE_QR), NOW, "test")
    home = Allocation(home_node, "store", BRANCH, 1.0, 0, (AllocatedLine(1, sku_a, 2),))
    far = Allocation(far_node, "warehouse", OTHER_BRANCH, 9.0, 0, (AllocatedLine(2, sku_b, 1),))
    order.allocate(RoutingDecision(1, (home, far), (), "split"), NOW, "test")
    payment = ProviderPayment("wx", order.id, order.total_fen, NOW)
    order.pay(payment, "Asia/Shanghai", NOW, "test")
    return order, sku_a, sku_b


def test_an_orders_facts_are_its_lines_categories_payees_and_cross_branch_shipments() -> None:
    order, sku_a, sku_b = split_order()
    found = OrderFacts.of(order, {sku_a: "apparel", sku_b: "shoes"}, "2026-12")
    assert (found.order_id, found.brand_id, found.paid_period) == (order.id, BRAND, "2026-12")
    assert (found.paid_fen, found.refunded_fen, found.channel) == (25_000, 0, "guide_qr")
    assert found.lines == (SaleLine(20_000, "apparel"), SaleLine(5_000, "shoes"))
    assert found.payees == payees_of(attribution(AttributionChannel.GUIDE_QR))
    assert found.cross_branch == (CrossBranchShipment(OTHER_BRANCH, 5_000),)


def test_commission_is_earned_on_what_was_paid_once_the_discounts_are_taken_off() -> None:
    coupons = (Discount("满199减20", 2_000), Discount("member voucher", 1_000))
    order, sku_a, sku_b = split_order(coupons)
    found = OrderFacts.of(order, {sku_a: "apparel", sku_b: "shoes"}, "2026-12")
    assert found.paid_fen == 22_000
    # 3,000 off 25,000 in proportion: 2,400 off the first line, 600 off the second.
    assert found.lines == (SaleLine(17_600, "apparel"), SaleLine(4_400, "shoes"))
    assert found.cross_branch == (CrossBranchShipment(OTHER_BRANCH, 4_400),)
    amounts = earned(found, RULES)
    assert amounts[GUIDE] == 528 + 220  # 3% of 17,600 apparel, 5% of 4,400 shoes
    assert amounts[Payee(PayeeLevel.BRANCH, OTHER_BRANCH)] == 88  # 2% of the 4,400 shipped


# --- after refunds ---------------------------------------------------------------------


def test_pro_rata_scales_each_amount_by_what_was_kept_rounded_half_up() -> None:
    assert pro_rata({GUIDE: 951, STORE_PAYEE: 317}, 31_700, 15_850) == {
        GUIDE: 476,  # 475.5
        STORE_PAYEE: 159,  # 158.5
    }
    assert pro_rata({GUIDE: 951}, 31_700, 31_700) == {GUIDE: 951}
    assert pro_rata({GUIDE: 951}, 0, 0) == {GUIDE: 951}  # nothing paid: nothing to scale


def test_an_accrual_is_pro_rata_to_what_was_not_refunded_when_it_was_made() -> None:
    assert accrual_shares(facts(), RULES) == earned(facts(), RULES)
    refunded = facts(refunded_fen=10_000)  # a third of 30,000 came back
    assert accrual_shares(refunded, RULES) == {GUIDE: 733, STORE_PAYEE: 200}


def test_what_a_payee_keeps_net_of_returns() -> None:
    accrued = {GUIDE.key: 1000, STORE_PAYEE.key: 333}
    assert net_of_returns(accrued, 31_700, 0) == accrued
    assert net_of_returns(accrued, 31_700, 31_700) == {GUIDE.key: 0, STORE_PAYEE.key: 0}
    kept = net_of_returns(accrued, 31_700, 10_000)
    assert sum(kept.values()) == 1333 - 421  # 1333 * 10,000 / 31,700 = 420.5 → 421 back


def test_a_correction_reaccrues_the_new_payees_pro_rata_under_the_accruals_rules() -> None:
    accrual = CommissionAccrual.accrue(
        order_id=uuid4(), facts=facts(), policy=RULES, source_event="o:3", occurred_at=NOW
    )
    corrected = facts(refunded_fen=10_000)
    with pytest.raises(LedgerError):
        accrual.reaccrue(corrected, RULES, "2026-12", NOW, "a2", "o:9")
    accrual.reverse(
        returned_fen=None,
        period="2026-12",
        at=NOW,
        posting_id="r",
        source_event="o:9",
        clawback=False,
    )
    posting = accrual.reaccrue(corrected, RULES, "2026-12", NOW, "a2", "o:9")
    assert accrual.accrued == {GUIDE.key: 733, STORE_PAYEE.key: 200}
    assert posting is not None
    assert posting.amount_to(GUIDE.account(Bucket.PENDING)) == 733
    assert (posting.rule_version, accrual.facts) == (3, corrected)


# --- closing a period -----------------------------------------------------------------


def test_the_top_percent_of_guides_by_net_sales_rounded_up_best_first() -> None:
    a, b, c, d = sorted((uuid4() for _ in range(4)), key=str)
    sales = {a: 500, b: 900, c: 500, d: 0}
    assert top_guides(sales, 50) == [b, a]  # 2 of the 3 who sold; equal sales by id
    assert top_guides(sales, 5) == [b]  # 5% of 3 guides rounds up to one
    assert top_guides(sales, 0) == []
    assert top_guides({a: -100}, 100) == []  # net of refunds, nothing sold


def test_a_stores_held_shares_are_handed_back_order_by_order() -> None:
    """Each order's held lines add up to what is handed back for it (a clawback after a
    hand-back is handed on, negative); what the account holds beyond its lines (held before
    statements showed it) goes back in one amount; an order that came to nothing gets the
    store's line alone, so its held lines are settled too."""
    close = BrandPeriodClose(BRAND, "2026-11")
    held = Account.of(PayeeLevel.STORE, STORE, Bucket.HELD, GUIDE_ID)
    sold, returned, clawed = sorted((uuid4() for _ in range(3)), key=str)
    lines = [
        HeldLine("s:3", held, sold, 951, 3),
        HeldLine("s:4", held, returned, 400, 3),
        HeldLine("s:5", held, returned, -400, 3),
        HeldLine("s:6", held, clawed, -80, 2),
    ]
    balances = {
        held: -(951 - 80 + 50),
        Account.of(PayeeLevel.STORE, STORE, Bucket.HELD, uuid4()): 0,
        Account.of(PayeeLevel.STORE, STORE, Bucket.HELD_PENDING, GUIDE_ID): -300,
        STORE_PAYEE.account(Bucket.SETTLEABLE): -317,
    }
    shares = held_shares(balances, lines)
    assert [(s.order_id, s.amount_fen, s.held_lines) for s in shares] == [
        (None, 50, ()),
        (sold, 951, ("s:3",)),
        (returned, 0, ("s:4", "s:5")),
        (clawed, -80, ("s:6",)),
    ]

    handed = close.hand_back(shares, NOW)
    assert [(payee, line.amount_fen, line.order_id, line.held) for payee, line in handed] == [
        (GUIDE, 50, None, None),
        (STORE_PAYEE, -50, None, held),
        (GUIDE, 951, sold, None),
        (STORE_PAYEE, -951, sold, held),
        (STORE_PAYEE, 0, returned, held),
        (GUIDE, -80, clawed, None),
        (STORE_PAYEE, 80, clawed, held),
    ]
    guide_line = handed[2][1]
    assert (guide_line.kind, guide_line.rule_version, guide_line.source_events) == (
        "handback",
        3,
        ("s:3",),
    )
    assert guide_line.description == f"order {sold}, handed back by {STORE_PAYEE.key}"
    assert handed[3][1].description == f"order {sold}, handed back to {GUIDE.key}"
    assert handed[4][1].posting_id is None  # nothing moved
    [event] = [e for e in close.collect_events() if isinstance(e, BrandPeriodClose.HandbacksPosted)]
    assert [p.posting_id for p in event.postings] == [
        f"handback:{close.id}:{held}",
        f"handback:{close.id}:{held}:{sold}",
        f"handback:{close.id}:{held}:{clawed}",
    ]
    posting = event.postings[1]
    assert posting.kind is PostingKind.HANDBACK
    assert (posting.order_id, posting.rule_version, posting.source_events) == (sold, 3, ("s:3",))
    assert posting.amount_to(GUIDE.account(Bucket.SETTLEABLE)) == 951
    assert posting.amount_to(held) == -951  # the store holds it no more
    assert sum(p.amount_to(held) for p in event.postings) == balances[held]
    with pytest.raises(LedgerError):
        close.hand_back(shares, NOW)


def test_each_top_guide_earns_the_bonus_named_by_rank_and_net_sales() -> None:
    close = BrandPeriodClose(BRAND, "2026-11")
    second, third = uuid4(), uuid4()
    sales = {GUIDE_ID: 90_000, second: 80_000, third: 100}
    lines = close.pay_bonuses(sales, replace(RULES, top_guide_percent=50), NOW)
    assert [(payee.payee_id, line.amount_fen) for payee, line in lines] == [
        (GUIDE_ID, 50_000),
        (second, 50_000),
    ]
    assert lines[1][1].description == (
        "top 50% bonus, rank 2 of 3 guides by net sales: 80000 fen in 2026-11"
    )
    assert lines[1][1].rule_version == 3
    [event] = [e for e in close.collect_events() if isinstance(e, BrandPeriodClose.BonusesPosted)]
    assert [p.amount_to(expense_account(BRAND)) for p in event.postings] == [-50_000, -50_000]
    with pytest.raises(LedgerError):
        close.pay_bonuses(sales, RULES, NOW)


def test_no_bonus_postings_when_the_rules_pay_none() -> None:
    close = BrandPeriodClose(BRAND, "2026-11")
    no_bonus = CommissionPolicy(top_guide_bonus_fen=0)
    assert close.pay_bonuses({GUIDE_ID: 100}, no_bonus, NOW) == []
    assert close.bonuses_paid


def test_a_negative_total_is_carried_into_the_next_period() -> None:
    period = SettlementPeriod(BRAND, GUIDE, "2026-11")
    assert period.carried_forward() is None  # not closed yet
    period.add_line(StatementLine("clawback", -51, "order"))
    period.close(NOW, "s1")
    carried = period.carried_forward()
    assert carried is not None
    assert (carried.kind, carried.amount_fen, carried.description) == (
        "brought_forward",
        -51,
        "from 2026-11",
    )
    assert carried.source_events == (f"{period.id}:{period.version}",)  # the close


def test_a_posting_makes_a_statement_line_for_each_settleable_balance_it_moves() -> None:
    guide, store = Payee(PayeeLevel.GUIDE, uuid4()), Payee(PayeeLevel.STORE, uuid4())
    entries = (
        Entry(guide.account(Bucket.PENDING), 500),
        Entry(guide.account(Bucket.SETTLEABLE), -500),
        Entry(store.account(Bucket.PENDING), 200),
        Entry(store.account(Bucket.SETTLEABLE), -200),
        Entry(store.account(Bucket.SETTLEABLE), 50),
        Entry(store.account(Bucket.PENDING), -50),
    )
    posting = Posting("maturity:1", PostingKind.MATURITY, BRAND, entries, "2026-11", NOW)
    assert posting.settleable_credits() == [
        (guide.account(Bucket.SETTLEABLE), 500),
        (store.account(Bucket.SETTLEABLE), 150),
    ]
