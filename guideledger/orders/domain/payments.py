"""Payments as the payment provider reports them: an order is paid on the provider's
word, never the frontend's, and each of the provider's transactions is recorded once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from guideledger.kernel.values import (
    Fen,
    natural_id,
    require_non_negative,
    require_text,
    require_utc,
)
from guideledger.orders.domain.errors import TransactionReused

MAX_TRANSACTION_ID_LENGTH = 128


@dataclass(frozen=True)
class ProviderPayment:
    """The provider took `amount_fen` for the order at `paid_at`, in its transaction
    `transaction_id` (unique across all of the provider's transactions)."""

    transaction_id: str
    order_id: UUID
    amount_fen: Fen
    paid_at: datetime

    def __post_init__(self) -> None:
        require_text("transaction_id", self.transaction_id, MAX_TRANSACTION_ID_LENGTH)
        require_non_negative("amount_fen", self.amount_fen)
        require_utc(self.paid_at)


class ProviderTransaction(Aggregate):
    """One of the provider's transactions, recorded with the payment it took, in the same
    transaction as the order it paid: a notification delivered again finds it and is
    answered as the first time, writing nothing."""

    @staticmethod
    def create_id(transaction_id: str) -> UUID:
        return natural_id("provider-transaction", transaction_id)

    class Recorded(Aggregate.Created):
        transaction_id: str
        order_id: UUID
        amount_fen: Fen
        paid_at: datetime
        order_version: int
        occurred_at: datetime
        actor: str

    @event(Recorded)
    def __init__(
        self,
        transaction_id: str,
        order_id: UUID,
        amount_fen: Fen,
        paid_at: datetime,
        order_version: int,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.payment = ProviderPayment(transaction_id, order_id, amount_fen, paid_at)
        self.order_version = order_version

    @classmethod
    def record(
        cls, payment: ProviderPayment, order_version: int, occurred_at: datetime, actor: str
    ) -> ProviderTransaction:
        """`order_version`: the order's version once paid, the answer to every delivery."""
        return cls(
            transaction_id=payment.transaction_id,
            order_id=payment.order_id,
            amount_fen=payment.amount_fen,
            paid_at=payment.paid_at,
            order_version=order_version,
            occurred_at=require_utc(occurred_at),
            actor=actor,
        )

    def delivered_again(self, payment: ProviderPayment) -> int:
        """The order's version the first delivery answered; refused if the provider now
        reports other facts under the same transaction id."""
        if payment != self.payment:
            raise TransactionReused(
                "the provider's transaction was recorded with other facts",
                transaction_id=payment.transaction_id,
                order_id=str(self.payment.order_id),
            )
        return self.order_version
