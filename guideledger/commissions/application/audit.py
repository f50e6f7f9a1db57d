"""Finance's audit of a settlement by replay.

The commission log is replayed as three streams:
1. where the statements are, in log order: which payee and period each statement
   is, where in the log each was closed, and the brand closes' postings;
2. the audited statements' stored lines, one statement after another;
3. the accruals' events, one accrual's history after another. Each accrual is
   recomputed from the order as it was when paid (a batch of accruals' orders read
   together) under the rule version its posting records; maturing and reversing are
   re-run by the domain's own `CommissionAccrual` on a replica, forgotten when its
   history ends. Each recomputed posting's credits to a settleable account become
   the statement lines the ledger should have written, placed in the posting's
   period or, if that payee's statement had closed before the posting in the log,
   the next one.

Memory holds a batch of accruals and, per audited statement, a digest of its lines
on each side (count, total and a sum of line hashes): it does not grow with the
month's events. Statements whose digests differ are replayed once more, restricted
to them, pairing stored and replayed lines one by one, so every differing line is
reported to the fen with the event ids involved.

Digests are sums, so streams 2 and 3 can be split by ranges of aggregate ids and
their parts replayed anywhere (`ReplayParts`, in other processes): the parts'
digests add up to the whole replay's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from hashlib import blake2b
from itertools import groupby
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, Notification

from guideledger.commissions.application.app import CommissionApplication
from guideledger.commissions.domain.ledger import (
    BrandPeriodClose,
    CommissionAccrual,
    SettlementPeriod,
)
from guideledger.commissions.domain.rules import Bucket, Posting, PostingKind
from guideledger.eventstore.log import AggregateLog, EventsUpTo, IdRange
from guideledger.orders.domain.order import Order

LINE_KINDS = {
    PostingKind.MATURITY,
    PostingKind.REVERSAL,
    PostingKind.CLAWBACK,
    PostingKind.HANDBACK,
    PostingKind.BONUS,
}
NEVER_CLOSED = float("inf")
NO_LINES = (0, 0, 0)  # a statement digest: count, total, sum of hashes
STATEMENT_INDEX = (
    SettlementPeriod.Opened,
    SettlementPeriod.Closed,
    BrandPeriodClose,
)
LINE_ADDED = SettlementPeriod.LineAdded


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


StatementKey = tuple[str, str]  # (payee, period)
Digest = tuple[int, int, int]  # a statement's lines: count, total, sum of line hashes


@dataclass(frozen=True)
class AuditedStatements:
    """The statements an audit compares: one period's, of one payee or of every payee."""

    period: str
    payee: str | None = None

    def __call__(self, key: StatementKey) -> bool:
        return key[1] == self.period and (self.payee is None or key[0] == self.payee)


@dataclass(frozen=True)
class ReplayPlan:
    """Where the statements are: all a part of the replay run elsewhere needs."""

    brand_id: UUID
    audited: AuditedStatements
    statement_keys: dict[UUID, StatementKey]  # the brand's statements
    closed_at: dict[StatementKey, int]  # log position of each statement's closing


@dataclass
class PartOutcome:
    """What one part of the replay found: its statements' stored lines and its
    accruals' replayed lines, as digests, and its accruals' mismatches."""

    events: int
    accruals_checked: int
    mismatches: list[Mismatch]
    stored: dict[StatementKey, Digest]
    replayed: dict[StatementKey, Digest]


ReplayParts = Callable[[ReplayPlan, Callable[[PartOutcome], None]], list[PartOutcome]]
"""Replays statements' lines and accruals in parts, each over a range of aggregate ids
(`SettlementAudit.replay_part`), tells the callback of each part as it finishes, and
gives back every part's outcome."""


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
        log: AggregateLog,
        order_events: EventsUpTo,
        order_mapper: Mapper[UUID],
        batch_size: int = 2_000,
        parts: ReplayParts | None = None,
    ) -> None:
        self.commissions = commissions
        self.log = log
        self.order_events = order_events
        self.order_mapper = order_mapper
        self.batch_size = batch_size
        self.parts = parts  # None: the replay runs here, whole

    def run(
        self,
        brand_id: UUID,
        period: str,
        payee: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> AuditReport:
        audited = AuditedStatements(period, payee)
        digests = _StatementDigests()
        index = _Replay(self, brand_id, audited, digests, check_accruals=False)
        index.statements()
        report = AuditReport(brand_id, period, payee, index.events)
        if progress:
            progress(report.events_replayed)
        plan = ReplayPlan(brand_id, audited, index.statement_keys, index.closed_at)
        for outcome in self._outcomes(plan, report.events_replayed, progress):
            digests.add(outcome)
            report.events_replayed += outcome.events
            report.accruals_checked += outcome.accruals_checked
            report.mismatches += outcome.mismatches
        unequal: set[StatementKey] = set()
        if differing := digests.differing():
            lines = _StatementLines()
            again = _Replay(self, brand_id, differing.__contains__, lines, check_accruals=False)
            again.statements()
            again.stored_lines()
            again.accruals()
            report.mismatches += lines.mismatches()
            unequal = {(m.payee, m.period) for m in report.mismatches}
        report.matched = [key[0] for key in sorted(digests.statements - unequal)]
        return report

    def _outcomes(
        self, plan: ReplayPlan, done_before: int, progress: Callable[[int], None] | None
    ) -> list[PartOutcome]:
        if self.parts is not None:
            done = done_before

            def finished(part: PartOutcome) -> None:
                nonlocal done
                done += part.events
                if progress:
                    progress(done)

            return self.parts(plan, finished)

        def replayed(done: int) -> None:
            if progress:
                progress(done_before + done)

        return [self.replay_part(plan, progress=replayed)]

    def replay_part(
        self,
        plan: ReplayPlan,
        ids: IdRange | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> PartOutcome:
        """The stored lines of the statements, and the accruals, with ids in `ids`
        (all if None)."""
        digests = _StatementDigests()
        replay = _Replay(
            self, plan.brand_id, plan.audited, digests, check_accruals=True, located=plan
        )
        replay.stored_lines(ids)
        replay.accruals(ids, progress)
        return PartOutcome(
            replay.events,
            replay.accruals_checked,
            replay.accrual_mismatches,
            digests.kept,
            digests.again,
        )

    def orders_as_paid(self, accruals: Iterable[Any]) -> dict[UUID, Order]:
        """The order of each accrual, as it was when paid."""
        wanted = dict(_paid_order(accrued) for accrued in accruals)
        orders: dict[UUID, Any] = {}
        mapper = self.order_mapper
        for stored in self.order_events(wanted):
            order_event: Any = mapper.to_domain_event(stored)
            order_id = order_event.originator_id
            orders[order_id] = order_event.mutate(orders.get(order_id))
        return orders


class _StatementDigests:
    """Per audited statement, what its lines add up to on each side.

    A digest is the lines' count, total and the sum of their (posting id, amount)
    hashes: equal digests mean equal lines, whatever order they arrived in, and a
    digest is a few integers however many lines the statement has.
    """

    def __init__(self) -> None:
        self.kept: dict[StatementKey, Digest] = {}
        self.again: dict[StatementKey, Digest] = {}

    def stored(self, key: StatementKey, posting_id: str, line: _Line) -> None:
        self.kept[key] = _plus(self.kept.get(key, NO_LINES), _digest(posting_id, line))

    def replayed(self, key: StatementKey, posting_id: str, line: _Line) -> None:
        self.again[key] = _plus(self.again.get(key, NO_LINES), _digest(posting_id, line))

    def add(self, part: PartOutcome) -> None:
        """Adds the digests of a part of the replay."""
        for digests, more in ((self.kept, part.stored), (self.again, part.replayed)):
            for key, digest in more.items():
                digests[key] = _plus(digests.get(key, NO_LINES), digest)

    @property
    def statements(self) -> set[StatementKey]:
        return self.kept.keys() | self.again.keys()

    def differing(self) -> set[StatementKey]:
        kept, again = self.kept, self.again
        return {
            key for key in self.statements if kept.get(key, NO_LINES) != again.get(key, NO_LINES)
        }


def _digest(posting_id: str, line: _Line) -> Digest:
    """One line's digest. Its hash is the same in every process (unlike `hash`), so
    parts replayed apart add up; a zero line adds nothing, as line by line."""
    fen = line.amount_fen
    if not fen:
        return NO_LINES
    hashed = blake2b(f"{posting_id}/{fen}".encode(), digest_size=8).digest()
    return 1, fen, int.from_bytes(hashed)


def _plus(digest: Digest, more: Digest) -> Digest:
    return digest[0] + more[0], digest[1] + more[1], (digest[2] + more[2]) % 2**64


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

    def stored(self, key: StatementKey, posting_id: str, line: _Line) -> None:
        kept, again = self.waiting.pop((*key, posting_id), (None, None))
        self._pair(key, posting_id, _together(kept, line), again)

    def replayed(self, key: StatementKey, posting_id: str, line: _Line) -> None:
        kept, again = self.waiting.pop((*key, posting_id), (None, None))
        self._pair(key, posting_id, kept, _together(again, line))

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


def _together(earlier: _Line | None, line: _Line) -> _Line:
    """Lines of one posting on one side add up: a line stored twice shows as twice the amount."""
    if earlier is None:
        return line
    return _Line(earlier.amount_fen + line.amount_fen, earlier.event_ids + line.event_ids)


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
    """One brand's commission ledger replayed: where the statements are first, then
    their stored lines statement by statement, then accrual by accrual."""

    def __init__(
        self,
        audit: SettlementAudit,
        brand_id: UUID,
        audited: Callable[[StatementKey], bool],
        lines: _StatementDigests | _StatementLines,
        check_accruals: bool,
        located: ReplayPlan | None = None,
    ) -> None:
        """`located`: where the statements are, from an earlier pass; else `statements()`
        finds out."""
        self.audit, self.commissions = audit, audit.commissions
        self.brand_id = brand_id
        self.audited, self.lines = audited, lines
        self.check_accruals = check_accruals
        self.events = 0
        self.statement_keys: dict[UUID, StatementKey] = {}
        self.closed_at: dict[StatementKey, int] = {}  # log position of each statement's closing
        if located is not None:
            self.statement_keys.update(located.statement_keys)
            self.closed_at.update(located.closed_at)
        self.accrual_mismatches: list[Mismatch] = []
        self.accruals_checked = 0
        # Rule versions and calendars never change once published: read each once per replay.
        self._rules = cache(self.commissions.recorded_rules)
        self._period_after = cache(self.commissions.period_after)

    def statements(self) -> None:
        """Where the statements are, and the brand closes' postings, in log order."""
        for position, event in self._decoded(self.audit.log.in_log_order(STATEMENT_INDEX)):
            self._statement_event(position, event)

    def stored_lines(self, ids: IdRange | None = None) -> None:
        """The stored lines of the statements (with ids in `ids`, if given)."""
        lines = self.audit.log.by_aggregate((LINE_ADDED,), ids)
        for position, event in self._decoded(lines):
            self._statement_event(position, event)

    def accruals(
        self, ids: IdRange | None = None, progress: Callable[[int], None] | None = None
    ) -> None:
        """The accrual pass (over the accruals with ids in `ids`, if given)."""
        for histories in self._accrual_batches(ids):
            accrued = [history[0][1] for history in histories]
            orders = self.audit.orders_as_paid(accrued) if self.check_accruals else {}
            for history in histories:
                self._accrual(history, orders)
            if progress:
                progress(self.events)

    def _decoded(self, notifications: Iterable[Notification]) -> Iterator[tuple[int, Any]]:
        to_domain_event = self.commissions.mapper.to_domain_event
        for notification in notifications:
            self.events += 1
            yield notification.id, to_domain_event(notification)

    def _accrual_batches(self, ids: IdRange | None) -> Iterator[list[list[tuple[int, Any]]]]:
        """This brand's accrual histories, a batch of about `batch_size` events at a time."""
        batch: list[list[tuple[int, Any]]] = []
        size = 0
        log = self.audit.log.by_aggregate((CommissionAccrual,), ids)
        for _, events in groupby(self._decoded(log), key=lambda item: item[1].originator_id):
            history = list(events)
            if history[0][1].brand_id != self.brand_id:
                continue
            batch.append(history)
            size += len(history)
            if size >= self.audit.batch_size:
                yield batch
                batch, size = [], 0
        if batch:
            yield batch

    def _statement_event(self, position: int, event: Any) -> None:
        if isinstance(event, BrandPeriodClose.Event):
            for posting in getattr(event, "postings", ()):
                self._lines_of(posting, (_event_id(event),), position)
            return
        name = type(event).__name__
        if name == "Opened":
            if event.brand_id == self.brand_id:
                self.statement_keys[event.originator_id] = (event.payee.key, event.period)
            return
        key = self.statement_keys.get(event.originator_id)
        if key is None:
            return
        if name == "LineAdded" and self.audited(key):
            line = event.line
            posting_id = line.posting_id or _event_id(event)
            self.lines.stored(key, posting_id, _Line(line.amount_fen, (_event_id(event),)))
        elif name == "Closed":
            self.closed_at[key] = position

    def _accrual(self, history: list[tuple[int, Any]], orders: dict[UUID, Order]) -> None:
        _, accrued = history[0]
        if self.check_accruals:
            self._check_accrual(accrued, orders)
        replica: CommissionAccrual = accrued.mutate(None)
        for position, event in history[1:]:
            again = self._posting_again(replica, event)
            if again is not None:
                self._lines_of(again, (_event_id(event), *again.source_events), position)

    def _posting_again(self, replica: CommissionAccrual, event: Any) -> Posting | None:
        """The posting `event` records, recomputed by the replica as the ledger computed it."""
        name = type(event).__name__
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
            again = stored
        replica.collect_events()  # the replica's own events are only a means to its postings
        return again

    def _check_accrual(self, event: Any, orders: dict[UUID, Order]) -> None:
        """The accrual again: the order as paid, under the rule version it records."""
        self.accruals_checked += 1
        order_id, _ = _paid_order(event)
        order = orders[order_id]
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

    def _lines_of(self, posting: Posting, event_ids: tuple[str, ...], position: int) -> None:
        """The statement lines a posting's settleable credits make, where the ledger put them:
        past every statement of the payee that had closed before the posting in the log."""
        if posting.kind not in LINE_KINDS or posting.brand_id != self.brand_id:
            return
        for account in dict.fromkeys(e.account for e in posting.entries):
            amount = posting.amount_to(account)
            if not amount or account.bucket is not Bucket.SETTLEABLE:
                continue
            payee, period = account.owner, posting.period
            while self.closed_at.get((payee, period), NEVER_CLOSED) < position:
                period = self._period_after(self.brand_id, period)
            if self.audited((payee, period)):
                self.lines.replayed((payee, period), posting.posting_id, _Line(amount, event_ids))
