"""What an order is made of: its lines, where it goes, its parcels, and its status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from guideledger.kernel.errors import InvalidValue
from guideledger.kernel.privacy import Sealed, area_of
from guideledger.kernel.values import Fen, GeoPoint, require_non_negative, require_positive

MAX_QUANTITY_PER_LINE = 10_000
MAX_UNIT_PRICE_FEN = 100_000_000  # CNY 1,000,000 a unit


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
