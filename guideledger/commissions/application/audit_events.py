"""What the settlement audit reads of the events it replays most.

A month's commission log is mostly statement lines and maturings. Of a line the
audit needs its amount and posting, of a maturing or a reversal the few fields it
re-runs the accrual with: each is read straight from the stored state into one of
these views (`TypedMapper.view_decoder`), with the event's own field names and
types, and nothing else of the event is decoded. Every other event is decoded whole.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from guideledger.commissions.domain.ledger import CommissionAccrual
from guideledger.commissions.domain.rules import PostingKind
from guideledger.commissions.domain.settlement import SettlementPeriod


class LineOf(msgspec.Struct, frozen=True):
    """Of a `StatementLine`."""

    amount_fen: int
    posting_id: str | None = None
    held: str | None = None


class LineAdded(msgspec.Struct, frozen=True):
    """Of `SettlementPeriod.LineAdded`."""

    line: LineOf


class PostingOf(msgspec.Struct, frozen=True):
    """Of a stored `Posting`: what re-running it takes (its amounts are computed again)."""

    posting_id: str
    kind: PostingKind
    period: str
    occurred_at: datetime
    source_events: tuple[str, ...] = ()


class Matured(msgspec.Struct, frozen=True):
    """Of `CommissionAccrual.Matured`."""

    period: str
    posting: PostingOf | None


class Reversed(msgspec.Struct, frozen=True):
    """Of `CommissionAccrual.Reversed`."""

    returned_fen: int
    posting: PostingOf | None


VIEWS: dict[type, type[LineAdded | Matured | Reversed]] = {
    SettlementPeriod.LineAdded: LineAdded,
    CommissionAccrual.Matured: Matured,
    CommissionAccrual.Reversed: Reversed,
}
