"""What an order is made of: its lines and discounts, where it goes, its parcels, its
exchanges, and its status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from guideledger.kernel.errors import InvalidValue
from guideledger.kernel.money import split
from guideledger.kernel.privacy import Sealed, area_of
from guideledger.kernel.values import (
    Fen,
    GeoPoint,
    require_non_negative,
    require_positive,
    require_text,
)
from guideledger.orders.domain.errors import WrongUnitPrice

MAX_QUANTITY_PER_LINE = 10_000
MAX_UNIT_PRICE_FEN = 100_000_000  # CNY 1,000,000 a unit
MAX_DISCOUNTS_PER_ORDER = 20


class OrderStatus(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class OrderLine:
    line_no: int
    sku_id: UUID
    quantity: int
    unit_price_fen: Fen

    def __post_init__(self) -> None:
        require_positive("line_no", self.line_no)
        require_positive("quantity", self.quantity)
        if self.quantity > MAX_QUANTITY_PER_LINE:
            raise InvalidValue(
                f"quantity must not exceed {MAX_QUANTITY_PER_LINE}", line_no=self.line_no
            )
        require_non_negative("unit_price_fen", self.unit_price_fen)
        if self.unit_price_fen > MAX_UNIT_PRICE_FEN:
            raise InvalidValue(
                f"unit_price_fen must not exceed {MAX_UNIT_PRICE_FEN}", line_no=self.line_no
            )

    @property
    def amount_fen(self) -> Fen:
        return self.quantity * self.unit_price_fen


@dataclass(frozen=True)
class Discount:
    """An amount taken off the whole order, under the name the customer sees (a coupon,
    a member's voucher): the lines keep their prices, and the order asks for less."""

    name: str
    amount_fen: Fen

    def __post_init__(self) -> None:
        require_text("discount name", self.name, 100)
        require_positive("discount amount_fen", self.amount_fen)


def discounted(amounts: Sequence[Fen], discount_fen: Fen) -> list[Fen]:
    """What each amount comes to once `discount_fen` is taken off them all in proportion
    (largest remainder, so the results add up to the total less the discount exactly, and
    none is below zero or above its amount)."""
    if not 0 <= discount_fen <= sum(amounts):
        raise InvalidValue("a discount cannot exceed what it is taken off")
    return [
        amount - share for amount, share in zip(amounts, split(discount_fen, amounts), strict=True)
    ]


def require_discounts_fit(lines: Sequence[OrderLine], discounts: Sequence[Discount]) -> None:
    """At most a few, each named once, together no more than the lines' total."""
    if len(discounts) > MAX_DISCOUNTS_PER_ORDER:
        raise InvalidValue(f"an order has at most {MAX_DISCOUNTS_PER_ORDER} discounts")
    if len({discount.name for discount in discounts}) != len(discounts):
        raise InvalidValue("each discount needs a name of its own")
    lines_fen = sum(line.amount_fen for line in lines)
    discount_fen = sum(discount.amount_fen for discount in discounts)
    if discount_fen > lines_fen:
        raise InvalidValue(
            "the discounts exceed the lines' total", lines_fen=lines_fen, discount_fen=discount_fen
        )


def require_price_in_force(line_no: int, unit_price_fen: Fen, price_in_force_fen: Fen) -> None:
    """A line sells at the SKU's price in force (its list price, or a promotion's while it
    runs): what the frontend shows is checked, never taken on its word."""
    if unit_price_fen != price_in_force_fen:
        raise WrongUnitPrice(
            "the line's unit price is not the SKU's price in force",
            line_no=line_no,
            unit_price_fen=unit_price_fen,
            price_in_force_fen=price_in_force_fen,
        )


@dataclass(frozen=True)
class DeliveryAddress:
    """Where the parcel goes. The address and the exact point are personal, sealed under
    the member's key (`exact`); `location` is what is kept in the clear, the point's area
    (`area_of`, about a kilometre), which routing falls back on and which is all that is
    left once the member is forgotten.

    An order placed before points were sealed has no `exact`: its `location` is the exact
    point, in the clear, and deleting a key cannot shred it; readers show its area once
    the member is forgotten."""

    address: Sealed
    location: GeoPoint
    exact: Sealed | None = None
    city: str | None = None  # as the frontend names it; none on orders placed before cities

    @property
    def area(self) -> GeoPoint:
        return area_of(self.location)


@dataclass(frozen=True)
class Shipment:
    shipment_id: str
    node_id: UUID
    quantities: Mapping[int, int]
    delivered_at: datetime | None = None

    @property
    def delivered(self) -> bool:
        return self.delivered_at is not None


@dataclass(frozen=True)
class ReplacementSku:
    """The SKU an exchange swaps to, at its price in force now (the catalogue's word)."""

    sku_id: UUID
    price_in_force_fen: Fen


@dataclass(frozen=True)
class Exchange:
    """Delivered units of a line swapped for as many of another SKU (换货): they came back
    at `received_at_node_id`, and `replacement` is the line the order ships instead."""

    exchange_id: str
    line_no: int
    quantity: int
    received_at_node_id: UUID
    replacement: OrderLine
