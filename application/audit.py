"""Finance's audit of a settlement by replay.

Every commission event is replayed from event zero in memory, a batch at a time.
Accruals are recomputed from the order as it was when paid (the orders of a batch's
accruals read together, in one query where the store allows), under the rule version the
posting records; maturing and reversing are re-run by the domain's own
`CommissionAccrual` on that replica. Each recomputed posting's credits to a
settleable account become the statement lines the ledger should have written,
placed in the posting's period or, if that payee's statement was closed by
then, the next one. The statements of the audited period are then compared
with the stored ones to the fen, line by line, with the event ids involved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from application.commissions import CommissionApplication
from domain.commission import Bucket, Posting, PostingKind
from domain.ledger import BrandPeriodClose, CommissionAccrual, SettlementPeriod
from domain.orders import Order

LINE_KINDS = {
    PostingKind.MATURITY,
    PostingKind.REVERSAL,
    PostingKind.CLAWBACK,
    PostingKind.HANDBACK,
    PostingKind.BONUS,
}
SETTLEABLE = f":{Bucket.SETTLEABLE}"
ACCRUED = f"{CommissionAccrual.__qualname__}.Accrued"

EventsUpTo = Callable[[Mapping[UUID, int]], Iterable[StoredEvent]]
"""Reads the stored events of many aggregates, each up to the version given, together."""


@dataclass(frozen=True)
class Mismatch:
    payee: str
    period: str
    what: str
    stored_fen: int
    replayed_fen: int
    event_ids: tuple[str, ...]


@dataclass
class AuditReport:
    brand_id: UUID
    period: str
    payee: str | None
    events_replayed: int = 0
    accruals_checked: int = 0  # paid orders whose commission was recomputed
    matched: list[str] = field(default_factory=list)  # payees whose statement matched
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.mismatches


@dataclass
class _Line:
    amount_fen: int
    event_ids: tuple[str, ...]


def _event_id(event: Any) -> str:
    return f"{event.originator_id}:{event.originator_version}"


def _paid_order(accrued: Any) -> tuple[UUID, int]:
    """The order an accrual was computed from and its version when paid."""
    order_id, version = accrued.paid_event.rsplit(":", 1)
    return UUID(order_id), int(version)


class SettlementAudit:
    def __init__(
        self,
        commissions: CommissionApplication,
        order_events: EventsUpTo,
        batch_size: int = 2_000,
    ) -> None:
        self.commissions = commissions
        self.order_events = order_events
        self.batch_size = batch_size

    def run(
        self,
        brand_id: UUID,
        period: str,
        payee: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> AuditReport:
        replay = _Replay(self.commissions, brand_id, period, payee)
        report = AuditReport(brand_id, period, payee)
        for batch in self._batches(progress):
            replay.orders_as_paid = self._orders_as_paid(batch, brand_id)
            for event in batch:
                replay.apply(event)
            report.events_replayed += len(batch)
        report.mismatches += replay.accrual_mismatches
        report.accruals_checked = replay.accruals_checked
        differing = replay.lines.mismatches()
        report.mismatches += differing
        unequal = {(m.payee, m.period) for m in differing}
        report.matched = [key[0] for key in sorted(replay.lines.statements - unequal)]
        return report

    def _batches(self, progress: Callable[[int], None] | None) -> Iterator[list[Any]]:
        recorder, mapper = self.commissions.recorder, self.commissions.mapper
        position, done = 0, 0
        while batch := recorder.select_notifications(
            start=position, limit=self.batch_size, inclusive_of_start=False
        ):
            yield [mapper.to_domain_event(notification) for notification in batch]
            position = batch[-1].id
            done += len(batch)
            if progress:
                progress(done)

    def _orders_as_paid(self, batch: list[Any], brand_id: UUID) -> dict[UUID, Order]:
        """The order of each of the brand's accruals in the batch, as it was when paid."""
        wanted = {}
        for event in batch:
            if type(event).__qualname__ == ACCRUED and event.brand_id == brand_id:
                paid_order, version = _paid_order(event)
                wanted[paid_order] = version
        orders: dict[UUID, Any] = {}
        mapper = self.commissions.orders.mapper
        for stored in self.order_events(wanted):
            order_event: Any = mapper.to_domain_event(stored)
            order_id = order_event.originator_id
            orders[order_id] = order_event.mutate(orders.get(order_id))
        return orders


class _StatementLines:
    """The audited statements' lines, stored and replayed.

    A stored line and its replayed twin are compared as soon as both have been
    seen, then forgotten: memory holds the lines still waiting for their twin, not
    a month of lines.
    """

    def __init__(self) -> None:
        self.statements: set[tuple[str, str]] = set()  # (payee, period) seen
        self.waiting: dict[tuple[str, str, str], tuple[_Line | None, _Line | None]] = {}
        self.differing: list[Mismatch] = []

    def stored(self, key: tuple[str, str], posting_id: str, line: _Line) -> None:
        _, again = self.waiting.pop((*key, posting_id), (None, None))
        self._pair(key, posting_id, line, again)

    def replayed(self, key: tuple[str, str], posting_id: str, line: _Line) -> None:
        kept, _ = self.waiting.pop((*key, posting_id), (None, None))
        self._pair(key, posting_id, kept, line)

    def mismatches(self) -> list[Mismatch]:
        """Lines that differ, and lines that have no twin, in payee, period, line order."""
        alone = [_mismatch(key, kept, again) for key, (kept, again) in self.waiting.items()]
        found = [m for m in [*self.differing, *alone] if m is not None]
        return sorted(found, key=lambda m: (m.payee, m.period, m.what))

    def _pair(
        self, key: tuple[str, str], posting_id: str, kept: _Line | None, again: _Line | None
    ) -> None:
        self.statements.add(key)
        if kept is None or again is None:
            self.waiting[(*key, posting_id)] = (kept, again)
            return
        found = _mismatch((*key, posting_id), kept, again)
        if found is not None:
            self.differing.append(found)


def _mismatch(
    line_key: tuple[str, str, str], kept: _Line | None, again: _Line | None
) -> Mismatch | None:
    payee, period, posting_id = line_key
    kept_fen = kept.amount_fen if kept else 0
    again_fen = again.amount_fen if again else 0
    if kept_fen == again_fen:
        return None
    ids = (kept.event_ids if kept else ()) + (again.event_ids if again else ())
    return Mismatch(payee, period, f"line {posting_id}", kept_fen, again_fen, ids)


class _Replay:
    """The commission ledger replayed in memory for one brand."""

    def __init__(
        self, commissions: CommissionApplication, brand_id: UUID, period: str, payee: str | None
    ) -> None:
        self.commissions = commissions
        self.brand_id = brand_id
        self.period, self.payee = period, payee
        self.accruals: dict[UUID, CommissionAccrual] = {}
        self.closed: set[tuple[str, str]] = set()  # (payee, period) statements closed so far
        self.lines = _StatementLines()
        self.accrual_mismatches: list[Mismatch] = []
        self.accruals_checked = 0
        self.orders_as_paid: dict[UUID, Order] = {}  # for the accruals of the current batch
        self.statement_keys: dict[UUID, tuple[str, str]] = {}
        # Rule versions never change once published: read each policy book once per replay.
        self._rules = cache(commissions.recorded_rules)

    def apply(self, event: Any) -> None:
        if getattr(event, "brand_id", self.brand_id) != self.brand_id:
            return
        owner = type(event).__qualname__.split(".")[0]
        if owner == CommissionAccrual.__name__:
            self._accrual_event(event)
        elif owner == SettlementPeriod.__name__:
            self._statement_event(event)
        elif owner == BrandPeriodClose.__name__:
            for posting in getattr(event, "postings", ()):
                self._lines_of(posting, (_event_id(event),))

    def _statement_event(self, event: Any) -> None:
        name = type(event).__name__
        if name == "Opened":
            if event.brand_id == self.brand_id:
                self.statement_keys[event.originator_id] = (event.payee.key, event.period)
            return
        key = self.statement_keys.get(event.originator_id)
        if key is None:
            return
        if name == "LineAdded" and self._audited(key):
            line = event.line
            posting_id = line.posting_id or _event_id(event)
            self.lines.stored(key, posting_id, _Line(line.amount_fen, (_event_id(event),)))
        elif name == "Closed":
            self.closed.add(key)

    def _accrual_event(self, event: Any) -> None:
        name, accrual_id = type(event).__name__, event.originator_id
        if name == "Accrued":
            self._check_accrual(event)
            self.accruals[accrual_id] = event.mutate(None)
            return
        replica = self.accruals.get(accrual_id)
        if replica is None:
            return
        stored: Any = getattr(event, "posting", None)
        again: Posting | None = None
        if name in {"Matured", "Reversed"} and stored is None:
            event.mutate(replica)  # nothing moved: nothing to recompute
        elif name == "Matured":
            again = replica.mature(event.period, stored.occurred_at, stored.posting_id)
        elif name == "Reversed":
            everything = event.returned_fen >= replica.base_fen
            again = replica.reverse(
                returned_fen=None if everything else event.returned_fen,
                period=stored.period,
                at=stored.occurred_at,
                posting_id=stored.posting_id,
                source_event=stored.source_events[0],
                clawback=stored.kind is PostingKind.CLAWBACK,
            )
        else:  # delivery recorded, re-accrued after a correction: taken as recorded
            event.mutate(replica)
            again = getattr(event, "posting", None)
        replica.collect_events()  # the replica's own events are only a means to its postings
        if again is not None:
            self._lines_of(again, (_event_id(event), *again.source_events))

    def _check_accrual(self, event: Any) -> None:
        """The accrual again: the order as paid, under the rule version it records."""
        self.accruals_checked += 1
        order_id, _ = _paid_order(event)
        order = self.orders_as_paid[order_id]
        assert order.attribution is not None, "a paid order is attributed"
        policy = self._rules(event.brand_id, event.rule_version)
        again = {
            p.key: a for p, a in self.commissions.earned(order, order.attribution, policy).items()
        }
        stored = {s.payee.key: s.amount_fen for s in event.shares}
        for payee in sorted(again.keys() | stored.keys()):
            if again.get(payee, 0) != stored.get(payee, 0):
                self.accrual_mismatches.append(
                    Mismatch(
                        payee,
                        event.posting.period if event.posting else "",
                        f"accrual on order {order_id}",
                        stored.get(payee, 0),
                        again.get(payee, 0),
                        (_event_id(event), event.paid_event),
                    )
                )

    def _lines_of(self, posting: Posting, event_ids: tuple[str, ...]) -> None:
        """The statement lines a posting's settleable credits make, where the ledger puts them."""
        if posting.kind not in LINE_KINDS or posting.brand_id != self.brand_id:
            return
        for account in dict.fromkeys(e.account for e in posting.entries):
            amount = posting.amount_to(account)
            if not account.endswith(SETTLEABLE) or not amount:
                continue
            payee, period = account.removesuffix(SETTLEABLE), posting.period
            while (payee, period) in self.closed:
                period = self.commissions.period_after(self.brand_id, period)
            if self._audited((payee, period)):
                self.lines.replayed((payee, period), posting.posting_id, _Line(amount, event_ids))

    def _audited(self, key: tuple[str, str]) -> bool:
        """Only the audited statements' lines are kept, so memory holds one period's lines."""
        payee, period = key
        return period == self.period and (self.payee is None or payee == self.payee)
