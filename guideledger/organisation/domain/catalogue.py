"""The brand's catalogue: SKUs with a list price in fen, a category and the promotion
prices the brand publishes for them, each for a stretch of time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from guideledger.kernel.errors import InvalidValue, RuleViolated
from guideledger.kernel.values import Fen, natural_id, require_positive, require_text, require_utc


@dataclass(frozen=True)
class Promotion:
    """A price of the SKU from `effective_from` until, not including, `effective_to`."""

    name: str
    price_fen: Fen
    effective_from: datetime
    effective_to: datetime

    def in_force(self, at: datetime) -> bool:
        return self.effective_from <= at < self.effective_to

    def overlaps(self, other: Promotion) -> bool:
        return self.effective_from < other.effective_to and other.effective_from < self.effective_to


class Sku(Aggregate):
    @staticmethod
    def create_id(brand_id: UUID, code: str) -> UUID:
        return natural_id("sku", brand_id, code)

    @classmethod
    def register(
        cls,
        *,
        brand_id: UUID,
        code: str,
        name: str,
        category: str,
        price_fen: Fen,
        occurred_at: datetime,
        actor: str,
    ) -> Sku:
        return cls(
            brand_id=brand_id,
            code=require_text("code", code, 64),
            name=require_text("name", name),
            category=require_text("category", category, 64),
            price_fen=require_positive("price_fen", price_fen),
            occurred_at=require_utc(occurred_at),
            actor=actor,
        )

    class Registered(Aggregate.Created):
        brand_id: UUID
        code: str
        name: str
        category: str
        price_fen: Fen
        occurred_at: datetime
        actor: str

    @event(Registered)
    def __init__(
        self,
        brand_id: UUID,
        code: str,
        name: str,
        category: str,
        price_fen: Fen,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.brand_id = brand_id
        self.code = code
        self.name = name
        self.category = category
        self.price_fen = price_fen
        self.promotions: tuple[Promotion, ...] = ()

    def price_in_force(self, at: datetime) -> Fen:
        """What a unit sells for at `at`: the promotion's price while one runs, else the
        list price."""
        for promotion in self.promotions:
            if promotion.in_force(at):
                return promotion.price_fen
        return self.price_fen

    def change_price(self, price_fen: Fen, occurred_at: datetime, actor: str) -> None:
        require_positive("price_fen", price_fen)
        if price_fen == self.price_fen:
            raise RuleViolated("the SKU already has that price")
        self._record_price_changed(self.price_fen, price_fen, require_utc(occurred_at), actor)

    class PriceChanged(Aggregate.Event):
        old_price_fen: Fen
        price_fen: Fen
        occurred_at: datetime
        actor: str

    @event(PriceChanged)
    def _record_price_changed(
        self, old_price_fen: Fen, price_fen: Fen, occurred_at: datetime, actor: str
    ) -> None:
        self.price_fen = price_fen

    def publish_promotion(
        self,
        name: str,
        price_fen: Fen,
        effective_from: datetime | None,
        effective_to: datetime,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        """A promotion price from `effective_from` (default: now, never earlier, so an order
        placed before it keeps the price it was checked against) until `effective_to`; one
        SKU runs one promotion at a time."""
        occurred_at = require_utc(occurred_at)
        promotion = Promotion(
            require_text("name", name),
            require_positive("price_fen", price_fen),
            occurred_at if effective_from is None else require_utc(effective_from),
            require_utc(effective_to),
        )
        if promotion.effective_from < occurred_at:
            raise RuleViolated("a promotion cannot take effect in the past")
        if promotion.effective_to <= promotion.effective_from:
            raise InvalidValue("a promotion must end after it starts")
        for other in self.promotions:
            if other.overlaps(promotion):
                raise RuleViolated(
                    "the SKU has another promotion at that time", promotion=other.name
                )
        self._record_promotion_published(
            promotion.name,
            promotion.price_fen,
            promotion.effective_from,
            promotion.effective_to,
            occurred_at,
            actor,
        )

    class PromotionPublished(Aggregate.Event):
        name: str
        price_fen: Fen
        effective_from: datetime
        effective_to: datetime
        occurred_at: datetime
        actor: str

    @event(PromotionPublished)
    def _record_promotion_published(
        self,
        name: str,
        price_fen: Fen,
        effective_from: datetime,
        effective_to: datetime,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        promotion = Promotion(name, price_fen, effective_from, effective_to)
        self.promotions = (*self.promotions, promotion)
