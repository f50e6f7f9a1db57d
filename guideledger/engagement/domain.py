"""A guide's shares and what came of them: share → reach (visits) → add-to-cart.

Orders and payments through a share code are counted from the order events;
each share carries its guide's store, district and branch at the moment of
sharing, so the funnel stays with the store the guide shared from, and its
brand's time zone, so each event records the brand-local day it counts on.
Events recorded before version 2 carried no day: theirs is taken in
`TIME_ZONE_OF_OLD_EVENTS`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from guideledger.kernel.errors import InvalidValue
from guideledger.kernel.periods import TIME_ZONE_OF_OLD_EVENTS, local_day
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
        time_zone: str,
        occurred_at: datetime,
        actor: str,
    ) -> Share:
        """`time_zone` is the brand's, in which the share's days are cut."""
        moment = require_utc(occurred_at)
        return cls(
            require_text("share_code", share_code, 64),
            brand_id,
            guide_id,
            store,
            str(ShareKind(kind)),
            sku_id,
            local_day(moment, time_zone),
            moment,
            actor,
        )

    class Shared(Aggregate.Created):
        class_version = 2

        share_code: str
        brand_id: UUID
        guide_id: UUID
        store: StoreSnapshot
        kind: str
        sku_id: UUID | None
        day: str
        occurred_at: datetime
        actor: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["day"] = local_day(state["occurred_at"], TIME_ZONE_OF_OLD_EVENTS)

    @event(Shared)
    def __init__(
        self,
        share_code: str,
        brand_id: UUID,
        guide_id: UUID,
        store: StoreSnapshot,
        kind: str,
        sku_id: UUID | None,
        day: str,
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

    def record_visits(self, count: int, time_zone: str, occurred_at: datetime, actor: str) -> None:
        """`time_zone` is the brand's: the visits count on that day there."""
        _require_count(count)
        moment = require_utc(occurred_at)
        day = local_day(moment, time_zone)
        self._record_visited(count, self.brand_id, self.guide_id, self.store, day, moment, actor)

    class Activity(Aggregate.Event):
        """Visits or add-to-carts through the share: they carry its guide and store and
        the brand-local day, so read models need no other state. Recorded before
        version 2, they count on their day in `TIME_ZONE_OF_OLD_EVENTS`."""

        class_version = 2

        count: int
        brand_id: UUID
        guide_id: UUID
        store: StoreSnapshot
        day: str
        occurred_at: datetime
        actor: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["day"] = local_day(state["occurred_at"], TIME_ZONE_OF_OLD_EVENTS)

    class Visited(Activity):
        pass

    @event(Visited)
    def _record_visited(
        self,
        count: int,
        brand_id: UUID,
        guide_id: UUID,
        store: StoreSnapshot,
        day: str,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.visits += count

    def record_add_to_carts(
        self, count: int, time_zone: str, occurred_at: datetime, actor: str
    ) -> None:
        """`time_zone` is the brand's: the add-to-carts count on that day there."""
        _require_count(count)
        moment = require_utc(occurred_at)
        day = local_day(moment, time_zone)
        self._record_added_to_cart(
            count, self.brand_id, self.guide_id, self.store, day, moment, actor
        )

    class AddedToCart(Activity):
        pass

    @event(AddedToCart)
    def _record_added_to_cart(
        self,
        count: int,
        brand_id: UUID,
        guide_id: UUID,
        store: StoreSnapshot,
        day: str,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.add_to_carts += count


def _require_count(count: int) -> None:
    if not 1 <= count <= MAX_ACTIVITY_PER_CALL:
        raise InvalidValue(f"count must be between 1 and {MAX_ACTIVITY_PER_CALL}")
