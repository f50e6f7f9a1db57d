"""Finance's audit of a settlement by replay.

The commission log is replayed in two passes:
1. where the statements are, in log order: which payee and period each statement
   is, where in the log each was closed, and the brand closes' postings;
2. one aggregate after another, the audited statements' stored lines and the
   accruals' events, one accrual's history after another. Each accrual is
   computed again from the `OrderFacts` its events record, under the rule version
   its posting records, with the ledger's own `accrual_shares`; maturing and
   reversing are re-run by the domain's own `CommissionAccrual` on a replica,
   forgotten when its history ends. Each recomputed posting's credits to a
   settleable account become the statement lines the ledger should have written,
   placed in the posting's period or, if that payee's statement had closed before
   the posting in the log, the next one.

An accrual recorded before the facts were has none to be computed from: its amounts
are taken as recorded (`accruals_checked` counts the accruals computed again), and
its maturing and reversing are still re-run and its lines compared.

A store's lines of the shares it holds for guides (`StatementLine.held`), in no total
and absent from older statements, are not compared; the guides' hand-backs are.

The second pass reads most events as narrow views (`audit_events`): a line's amount
and posting, a maturing's or a reversal's posting, not the whole event.

Memory holds one accrual's replica and, per audited statement, a digest of its lines
on each side (`audit_lines`): it does not grow with the month's events. Statements
whose digests differ are replayed once more, restricted to them, pairing stored and
replayed lines one by one, so every differing line is reported to the fen with the
event ids involved.

Digests are sums, so the second pass can be split by ranges of aggregate ids and
their parts replayed anywhere (`ReplayParts`, in other processes): the parts'
digests add up to the whole replay's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import cast
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import resolve_topic

from guideledger.commissions.application.app import CommissionApplication
from guideledger.commissions.application.audit_events import (
    VIEWS,
    LineAdded,
    Matured,
    Reversed,
)
from guideledger.commissions.application.audit_lines import (
    Digest,
    EventRef,
    Line,
    Lines,
    Mismatch,
    StatementDigests,
    StatementKey,
    StatementLines,
    correction_mismatches,
    event_id,
)
from guideledger.commissions.domain.earnings import accrual_shares
from guideledger.commissions.domain.ledger import CommissionAccrual
from guideledger.commissions.domain.rules import Posting, PostingKind
from guideledger.commissions.domain.settlement import BrandPeriodClose, SettlementPeriod
from guideledger.eventstore.codec import view_decoder
from guideledger.eventstore.log import AggregateLog, IdRange, Kinds, LoggedEvent

LINE_KINDS = {
    PostingKind.MATURITY,
    PostingKind.CORRECTION,
    PostingKind.REVERSAL,
    PostingKind.CLAWBACK,
    PostingKind.HANDBACK,
    PostingKind.BONUS,
}
NEVER_CLOSED = float("inf")
STATEMENT_INDEX = (
    SettlementPeriod.Opened,
    SettlementPeriod.Closed,
    BrandPeriodClose,
)
LINES_AND_ACCRUALS = (SettlementPeriod.LineAdded, CommissionAccrual)
Accrual = CommissionAccrual.Accrued | CommissionAccrual.Reaccrued
Read = Aggregate.Event | LineAdded | Matured | Reversed  # an event, whole or a view of it


@dataclass
class AuditReport:
    brand_id: UUID
    period: str
    payee: str | None
    events_replayed: int = 0
    accruals_checked: int = 0  # paid orders whose commission was computed again
    matched: list[str] = field(default_factory=list)  # payees whose statement matched
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.mismatches


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


def _next(aggregate_id: UUID) -> UUID | None:
    """The id after this one, the end of a range of just this aggregate."""
    following = aggregate_id.int + 1
    return UUID(int=following) if following < 2**128 else None


def _event_ref(event: Aggregate.Event) -> EventRef:
    return event.originator_id, event.originator_version


class SettlementAudit:
    def __init__(
        self,
        commissions: CommissionApplication,
        log: AggregateLog,
        batch_size: int = 2_000,
        parts: ReplayParts | None = None,
    ) -> None:
        self.commissions = commissions
        self.log = log
        self.batch_size = batch_size  # events between two reports of progress
        self.parts = parts  # None: the replay runs here, whole

    def run(
        self,
        brand_id: UUID,
        period: str,
        payee: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> AuditReport:
        audited = AuditedStatements(period, payee)
        digests = StatementDigests()
        index = _Replay(self, brand_id, audited, digests, check_accruals=False)
        index.statements()
        report = AuditReport(brand_id, period, payee, index.events)
        if progress:
            progress(report.events_replayed)
        plan = ReplayPlan(brand_id, audited, index.statement_keys, index.closed_at)
        for outcome in self._outcomes(plan, report.events_replayed, progress):
            digests.add(outcome.stored, outcome.replayed)
            report.events_replayed += outcome.events
            report.accruals_checked += outcome.accruals_checked
            report.mismatches += outcome.mismatches
        unequal: set[StatementKey] = set()
        if differing := digests.differing():
            lines = StatementLines()
            again = _Replay(self, brand_id, differing.__contains__, lines, check_accruals=False)
            again.statements()
            again.line_by_line(differing)
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
        digests = StatementDigests()
        replay = _Replay(
            self, plan.brand_id, plan.audited, digests, check_accruals=True, located=plan
        )
        replay.replay(LINES_AND_ACCRUALS, ids, progress)
        return PartOutcome(
            replay.events,
            replay.accruals_checked,
            replay.accrual_mismatches,
            digests.kept,
            digests.again,
        )


class _Replay:
    """One brand's commission ledger replayed: where the statements are first, then, in
    one pass over aggregates, the statements' stored lines and the accruals."""

    def __init__(
        self,
        audit: SettlementAudit,
        brand_id: UUID,
        audited: Callable[[StatementKey], bool],
        lines: Lines,
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
        self._readers: dict[str, Callable[[LoggedEvent], Read]] = {}

    def statements(self) -> None:
        """Where the statements are, and the brand closes' postings, in log order."""
        for logged in self.audit.log.in_log_order(STATEMENT_INDEX):
            self.events += 1
            self._statement_event(logged.id, self._event(logged))

    def line_by_line(self, statements: set[StatementKey]) -> None:
        """These statements' stored lines, then every accrual: a stored line is then with
        all its copies when its replayed twin comes (`StatementLines` pairs them as they
        come)."""
        for statement_id, key in self.statement_keys.items():
            if key in statements:
                self.replay((SettlementPeriod.LineAdded,), (statement_id, _next(statement_id)))
        self.replay((CommissionAccrual,))

    def replay(
        self,
        kinds: Kinds,
        ids: IdRange | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """The statements' stored lines and the accruals among `kinds` (of aggregates with
        ids in `ids`, if given), one aggregate after another; `progress` hears the running
        count of events about every `batch_size` of them."""
        told = self.events
        history: UUID | None = None  # the accrual whose history is being read
        replica: CommissionAccrual | None = None  # its replica, if it is this brand's
        for logged in self.audit.log.by_aggregate(kinds, ids):
            self.events += 1
            read = self._read(logged)
            if isinstance(read, LineAdded):
                self._stored_line(logged, read)
            elif isinstance(read, CommissionAccrual.Accrued):
                history, replica = logged.originator_id, self._accrued(read)
            else:
                assert logged.originator_id == history, "an accrual starts accrued"
                if replica is not None:
                    self._accrual_event(replica, logged, read)
            if progress and self.events - told >= self.audit.batch_size:
                told = self.events
                progress(told)
        if progress and self.events > told:
            progress(self.events)

    def _read(self, logged: LoggedEvent) -> Read:
        """The event as the audit reads it: a view of the commonest kinds, else whole."""
        try:
            reader = self._readers[logged.topic]
        except KeyError:
            event_class = resolve_topic(logged.topic)
            view = VIEWS.get(event_class)
            mapper = self.commissions.mapper
            reader = self._event if view is None else view_decoder(mapper, event_class, view)
            reader = self._readers.setdefault(logged.topic, reader)
        return reader(logged)

    def _event(self, logged: LoggedEvent) -> Aggregate.Event:
        stored = StoredEvent(
            logged.originator_id, logged.originator_version, logged.topic, logged.state
        )
        return cast(Aggregate.Event, self.commissions.mapper.to_domain_event(stored))

    def _stored_line(self, logged: LoggedEvent, added: LineAdded) -> None:
        key = self.statement_keys.get(logged.originator_id)
        if key is not None and added.line.held is None and self.audited(key):
            event: EventRef = (logged.originator_id, logged.originator_version)
            posting_id = added.line.posting_id or event_id(event)
            self.lines.stored(key, posting_id, Line(added.line.amount_fen, (event,)))

    def _statement_event(self, position: int, event: Aggregate.Event) -> None:
        if isinstance(event, BrandPeriodClose.HandbacksPosted | BrandPeriodClose.BonusesPosted):
            for posting in event.postings:
                self._lines_of(posting, (_event_ref(event),), position)
            return
        if isinstance(event, SettlementPeriod.Opened):
            if event.brand_id == self.brand_id:
                self.statement_keys[event.originator_id] = (event.payee.key, event.period)
            return
        key = self.statement_keys.get(event.originator_id)
        if key is not None and isinstance(event, SettlementPeriod.Closed):
            self.closed_at[key] = position

    def _accrued(self, accrued: CommissionAccrual.Accrued) -> CommissionAccrual | None:
        """The replica of this brand's accrual, checked against the rules."""
        if accrued.brand_id != self.brand_id:
            return None
        replica = accrued.mutate(None)
        assert isinstance(replica, CommissionAccrual)
        if self.check_accruals:
            self._check(accrued, replica, (_event_ref(accrued), accrued.paid_event))
        return replica

    def _accrual_event(self, replica: CommissionAccrual, logged: LoggedEvent, read: Read) -> None:
        event: EventRef = (logged.originator_id, logged.originator_version)
        if self.check_accruals and isinstance(read, CommissionAccrual.Reaccrued):
            source = read.posting.source_events if read.posting else ()
            self._check(read, replica, (event, *source))
        again = self._posting_again(replica, logged, read)
        if self.check_accruals and isinstance(read, CommissionAccrual.Corrected):
            events = (event, *read.posting.source_events)
            self.accrual_mismatches += correction_mismatches(read.posting, again, events)
        if again is not None:
            self._lines_of(again, (event, *again.source_events), logged.id)

    def _posting_again(
        self, replica: CommissionAccrual, logged: LoggedEvent, read: Read
    ) -> Posting | None:
        """The posting an accrual's event records, recomputed by the replica as the ledger
        computed it."""
        again: Posting | None = None
        if isinstance(read, Matured) and read.posting is not None:
            stored = read.posting
            again = replica.mature(read.period, stored.occurred_at, stored.posting_id)
        elif isinstance(read, Reversed) and read.posting is not None:
            stored = read.posting
            everything = read.returned_fen >= replica.base_fen
            again = replica.reverse(
                returned_fen=None if everything else read.returned_fen,
                period=stored.period,
                at=stored.occurred_at,
                posting_id=stored.posting_id,
                source_event=stored.source_events[0],
                clawback=stored.kind is PostingKind.CLAWBACK,
            )
        elif isinstance(read, CommissionAccrual.Corrected):
            again = replica.correct(
                self._rules(replica.brand_id, read.rule_version),
                period=read.posting.period,
                at=read.posting.occurred_at,
                posting_id=read.posting.posting_id,
                source_events=read.posting.source_events,
            )
        else:  # nothing moved, delivery recorded, re-accrued (checked apart): as recorded
            event = read if isinstance(read, Aggregate.Event) else self._event(logged)
            event.mutate(replica)
            if isinstance(event, CommissionAccrual.Reaccrued):
                again = event.posting
        replica.collect_events()  # the replica's own events are only a means to its postings
        return again

    def _check(
        self, event: Accrual, replica: CommissionAccrual, events: tuple[EventRef, ...]
    ) -> None:
        """An accrual (or a re-accrual) again: from the order's facts it records, under the
        rule version the accrual records. One recorded before the facts were has nothing
        to be computed from: it is taken as recorded."""
        if event.facts is None:
            return
        if isinstance(event, CommissionAccrual.Accrued):
            self.accruals_checked += 1
        policy = self._rules(replica.brand_id, replica.rule_version)
        again = {p.key: fen for p, fen in accrual_shares(event.facts, policy).items()}
        stored = {share.payee.key: share.amount_fen for share in event.shares}
        if again == stored:
            return
        what = "accrual" if isinstance(event, CommissionAccrual.Accrued) else "re-accrual"
        period = event.posting.period if event.posting else ""
        ids = tuple(map(event_id, events))
        for payee in sorted(again.keys() | stored.keys()):
            kept, computed = stored.get(payee, 0), again.get(payee, 0)
            if kept != computed:
                what_moved = f"{what} on order {replica.order_id}"
                self.accrual_mismatches.append(
                    Mismatch(payee, period, what_moved, kept, computed, ids)
                )

    def _lines_of(self, posting: Posting, events: tuple[EventRef, ...], position: int) -> None:
        """The statement lines a posting's settleable credits make, where the ledger put them:
        past every statement of the payee that had closed before the posting in the log."""
        if posting.kind not in LINE_KINDS or posting.brand_id != self.brand_id:
            return
        for account, amount in posting.settleable_credits():
            payee, period = account.owner, posting.period
            while self.closed_at.get((payee, period), NEVER_CLOSED) < position:
                period = self._period_after(self.brand_id, period)
            if self.audited((payee, period)):
                self.lines.replayed((payee, period), posting.posting_id, Line(amount, events))
