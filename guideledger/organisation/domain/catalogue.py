"""The brand's catalogue: SKUs with a list price in fen and a category."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from guideledger.kernel.errors import RuleViolated
from guideledger.kernel.values import Fen, natural_id, require_positive, require_text, require_utc


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
