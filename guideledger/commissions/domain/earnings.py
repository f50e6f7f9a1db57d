"""Who is paid for an order, and what each payee earns on it.

The ledger, its audit and the commission view all compute an order's commission
with these functions, from `OrderFacts`: the order as the accrual saw it. The
facts travel on the accrual's events, so an accrual can be computed again, under
the rules it recorded or any others, from the commission log alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from guideledger.attribution.domain.rules import Attribution, AttributionChannel
from guideledger.commissions.domain.rules import (
    CommissionPolicy,
    Payee,
    PayeeLevel,
    SaleLine,
    commissions,
)
from guideledger.kernel.money import at_rate, divide_half_up, split
from guideledger.orders.domain.order import Order


@dataclass(frozen=True)
class CrossBranchShipment:
    """Goods a branch other than the selling one shipped for the sale, at their value."""

    branch_id: UUID
    value_fen: int


@dataclass(frozen=True)
class OrderFacts:
    """What an order's commission is computed from, as the order stood when accrued."""

    order_id: UUID
    brand_id: UUID
    paid_period: str  # the brand's settlement period the order was paid in
    paid_fen: int
    channel: str  # how the sale was attributed
    lines: tuple[SaleLine, ...]
    payees: tuple[Payee, ...]
    cross_branch: tuple[CrossBranchShipment, ...] = ()
    # Refunded before an attribution correction re-accrued the order: the new payees earn
    # on the rest. A first accrual is on everything paid (0), whatever came back since.
    refunded_fen: int = 0
    # When it was paid, which decides the rules in force for it; None: accrued before the
    # facts named the instant.
    paid_at: datetime | None = None

    @classmethod
    def of(
        cls,
        order: Order,
        categories: Mapping[UUID, str],
        paid_period: str,
        refunded_fen: int = 0,
    ) -> OrderFacts:
        """The paid order's facts; `categories` gives each of its SKUs' category. Each line
        and shipment counts at what was really paid for it, the order's discounts taken off
        in proportion."""
        assert order.attribution is not None, "every placed order is attributed"
        return cls(
            order_id=order.id,
            brand_id=order.brand_id,
            paid_period=paid_period,
            paid_fen=order.paid_fen,
            channel=str(order.attribution.channel),
            lines=tuple(
                SaleLine(order.paid_for(line.line_no), categories[line.sku_id])
                for line in order.lines
            ),
            payees=payees_of(order.attribution),
            cross_branch=tuple(
                CrossBranchShipment(
                    allocation.branch_id,
                    sum(order.paid_for(line.line_no, line.quantity) for line in allocation.lines),
                )
                for allocation in order.allocations
                if order.is_cross_branch(allocation)
            ),
            refunded_fen=refunded_fen,
            paid_at=order.paid_at,
        )


def payees_of(attribution: Attribution) -> tuple[Payee, ...]:
    """Whom a sale pays: the guide, the store and the store's district, region and branch
    as the attribution recorded them; nobody for an unattributed sale. A guide named on a
    store-account order has their share held by the store until the period closes."""
    if attribution.store_id is None:
        return ()
    payees = []
    if attribution.guide_id is not None:
        held_by = (
            attribution.store_id
            if attribution.channel is AttributionChannel.STORE_ACCOUNT_GUIDE
            else None
        )
        payees.append(Payee(PayeeLevel.GUIDE, attribution.guide_id, held_by))
    for level, payee_id in (
        (PayeeLevel.STORE, attribution.store_id),
        (PayeeLevel.DISTRICT, attribution.district_id),
        (PayeeLevel.REGION, attribution.region_id),
        (PayeeLevel.BRANCH, attribution.branch_id),
    ):
        if payee_id is not None:
            payees.append(Payee(level, payee_id))
    return tuple(payees)


def earned(facts: OrderFacts, policy: CommissionPolicy) -> dict[Payee, int]:
    """What each payee earns on the sale under `policy`: the rates on its lines, and the
    fulfilment fee on each cross-branch shipment's value for the branch that shipped it."""
    amounts = commissions(facts.lines, facts.channel, facts.payees, policy)
    for shipment in facts.cross_branch:
        fee = at_rate(shipment.value_fen, policy.fulfilment_fee_bp)
        if fee:
            shipper = Payee(PayeeLevel.BRANCH, shipment.branch_id)
            amounts[shipper] = amounts.get(shipper, 0) + fee
    return amounts


def pro_rata(amounts: Mapping[Payee, int], paid_fen: int, kept_fen: int) -> dict[Payee, int]:
    """Each amount in proportion to what the customer kept of what they paid, each rounded
    half up; all of it when nothing was refunded."""
    if not paid_fen or kept_fen >= paid_fen:
        return dict(amounts)
    return {payee: divide_half_up(amount * kept_fen, paid_fen) for payee, amount in amounts.items()}


def accrual_shares(facts: OrderFacts, policy: CommissionPolicy) -> dict[Payee, int]:
    """What an accrual posts each payee under `policy`: what they earn on the sale, pro
    rata to what had not been refunded when it was accrued."""
    return pro_rata(earned(facts, policy), facts.paid_fen, facts.paid_fen - facts.refunded_fen)


def reversal_targets(
    accrued: Mapping[str, int], base_fen: int, returned_fen: int
) -> dict[str, int]:
    """What each payee gives back once `returned_fen` of `base_fen` came back: the whole
    reversal rounded half up once, split by largest remainder; everything on a full return."""
    if returned_fen >= base_fen:
        return dict(accrued)
    total = divide_half_up(sum(accrued.values()) * returned_fen, base_fen)  # base > returned ≥ 0
    return dict(zip(accrued, split(total, list(accrued.values())), strict=True))


def net_of_returns(accrued: Mapping[str, int], base_fen: int, returned_fen: int) -> dict[str, int]:
    """What each payee keeps of an accrual once `returned_fen` of `base_fen` came back."""
    given_back = reversal_targets(accrued, base_fen, returned_fen)
    return {payee: amount - given_back[payee] for payee, amount in accrued.items()}


def correction(
    accrued: Mapping[str, int], outstanding: Mapping[str, int], base_fen: int, returned_fen: int
) -> dict[str, int]:
    """Each payee whose amount changes when an order is accrued again as `accrued` (payee
    key → fen) with what it had: the change from what they keep (`outstanding`) to what
    they would keep of `accrued` once `returned_fen` of `base_fen` came back."""
    kept = net_of_returns({k: a for k, a in accrued.items() if a}, base_fen, returned_fen)
    changes = {
        k: kept.get(k, 0) - outstanding.get(k, 0) for k in dict.fromkeys([*kept, *outstanding])
    }
    return {payee: change for payee, change in changes.items() if change}
