"""A guide's shares and what came of them: share → reach (visits) → add-to-cart.

Orders and payments through a share code are counted from the order events;
each share carries its guide's store, district and branch at the moment of
sharing, so the funnel stays with the store the guide shared from.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from guideledger.kernel.errors import InvalidValue
from guideledger.kernel.values import natural_id, require_text, require_utc
from guideledger.organisation.domain.units import StoreSnapshot

MAX_ACTIVITY_PER_CALL = 10_000


class ShareKind(StrEnum):
    PRODUCT_LINK = "product_link"
    QR_CODE = "qr_code"
    LIVE_STREAM = "live_stream"


class Share(Aggregate):
    @staticmethod
    def create_id(share_code: str) -> UUID:
        return natural_id("share", share_code)

    @classmethod
    def record(
        cls,
        *,
        share_code: str,
        brand_id: UUID,
        guide_id: UUID,
        store: StoreSnapshot,
        kind: ShareKind,
        sku_id: UUID | None,
        occurred_at: datetime,
        actor: str,
    ) -> Share:
        return cls(
            require_text("share_code", share_code, 64),
            brand_id,
            guide_id,
            store,
            str(ShareKind(kind)),
            sku_id,
            require_utc(occurred_at),
            actor,
        )

    class Shared(Aggregate.Created):
        share_code: str
        brand_id: UUID
        guide_id: UUID
        store: StoreSnapshot
        kind: str
        sku_id: UUID | None
        occurred_at: datetime
        actor: str

    @event(Shared)
    def __init__(
        self,
        share_code: str,
        brand_id: UUID,
        guide_id: UUID,
        store: StoreSnapshot,
        kind: str,
        sku_id: UUID | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.share_code = share_code
        self.brand_id = brand_id
        self.guide_id = guide_id
        self.store = store
        self.kind = ShareKind(kind)
        self.sku_id = sku_id
        self.shared_at = occurred_at
        self.visits = 0
        self.add_to_carts = 0

    def record_visits(self, count: int, occurred_at: datetime, actor: str) -> None:
        _require_count(count)
        self._record_visited(
            count, self.brand_id, self.guide_id, self.store, require_utc(occurred_at), actor
        )

    class Visited(Aggregate.Event):
        count: int
        brand_id: UUID
        guide_id: UUID
        store: StoreSnapshot
        occurred_at: datetime
        actor: str

    @event(Visited)
    def _record_visited(
        self,
        count: int,
        brand_id: UUID,
        guide_id: UUID,
        store: StoreSnapshot,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        """Carries the share's guide and store, so read models need no other state."""
        self.visits += count

    def record_add_to_carts(self, count: int, occurred_at: datetime, actor: str) -> None:
        _require_count(count)
        self._record_added_to_cart(
            count, self.brand_id, self.guide_id, self.store, require_utc(occurred_at), actor
        )

    class AddedToCart(Aggregate.Event):
        count: int
        brand_id: UUID
        guide_id: UUID
        store: StoreSnapshot
        occurred_at: datetime
        actor: str

    @event(AddedToCart)
    def _record_added_to_cart(
        self,
        count: int,
        brand_id: UUID,
        guide_id: UUID,
        store: StoreSnapshot,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.add_to_carts += count


def _require_count(count: int) -> None:
    if not 1 <= count <= MAX_ACTIVITY_PER_CALL:
        raise InvalidValue(f"count must be between 1 and {MAX_ACTIVITY_PER_CALL}")
