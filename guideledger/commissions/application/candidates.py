"""Per brand, a candidate commission view beside the serving one: built under a change of
the brand's commission rules, diffed, then promoted or discarded.

A rebuild registers the brand's candidate and builds it from event zero while the serving
view keeps answering. Several brands can have a candidate at once: each brand's row of
the registry changes by compare-and-set of the brand's own position, so two admins cannot
both rebuild, promote or discard one brand's candidate, and nothing one brand does moves
another's. Promoting books the difference in the ledger, in one transaction of the
commissions application (the proposal, if any, published with it); the serving view,
which follows the ledger, then shows what the candidate showed, and the candidate is
retired. Discarding books nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any
from uuid import UUID

import msgspec

from guideledger.commissions.application.app import CommissionApplication
from guideledger.commissions.application.commission_view import (
    CANDIDATE,
    SERVING,
    CommissionView,
    DiffLine,
    diff,
)
from guideledger.commissions.domain.rule_change import RuleChange
from guideledger.commissions.domain.rules import CommissionPolicy
from guideledger.eventstore.commands import Command, CommandResult
from guideledger.kernel.errors import Conflict, NotFound
from guideledger.readmodels.model import Table, Upsert
from guideledger.readmodels.runner import ProjectionRunner

REGISTRY = Table(
    name="commission_view_candidates",
    key=("brand_id",),
    columns={
        "brand_id": "uuid",
        "built": "int",  # how many candidates the brand has had: the latest one's number
        "candidate": "int",  # the waiting candidate's number; null: none waits
        "published": "int",  # how many rules versions the brand had published then
        "proposal": "text",  # the rules proposed, as JSON; null: the rules as published
    },
)


@dataclass(frozen=True)
class Candidate:
    """A brand's row of the registry."""

    brand_id: UUID
    built: int = 0
    number: int | None = None
    published: int = 0
    proposal: CommissionPolicy | None = None

    @property
    def name(self) -> str:
        """Its projection's, and its table's, name."""
        return f"{CANDIDATE}_{self.brand_id.hex}_{self.number}"

    def row(self) -> dict[str, Any]:
        proposal = None if self.proposal is None else msgspec.json.encode(self.proposal).decode()
        return {
            "built": self.built,
            "candidate": self.number,
            "published": self.published,
            "proposal": proposal,
        }

    @classmethod
    def of_row(cls, row: dict[str, Any]) -> Candidate:
        text = row["proposal"]
        return cls(
            row["brand_id"],
            row["built"],
            row["candidate"],
            row["published"],
            None if text is None else msgspec.json.decode(text, type=CommissionPolicy),
        )


@dataclass(frozen=True)
class CandidateStatus:
    candidate: Candidate
    events: int  # what this process has folded into it so far
    ready: bool


class CommissionViews:
    def __init__(
        self,
        runner: ProjectionRunner,
        commissions: CommissionApplication,
        accrue_paid: Callable[[], object],
    ) -> None:
        """`accrue_paid` brings the accruals the views fold up to date with the orders
        (the commission process): a view read sees every order paid before it."""
        self.runner = runner
        self.commissions = commissions
        self.accrue_paid = accrue_paid
        self.building: dict[UUID, threading.Thread] = {}
        self.progress: dict[str, int] = {}  # events a rebuild in this process has applied
        runner.store.create_tables([REGISTRY])
        runner.register(CommissionView())
        self.sync()

    # --- the registry ----------------------------------------------------------------

    def candidate(self, brand_id: UUID) -> Candidate:
        rows = self.runner.store.select(REGISTRY, {"brand_id": brand_id})
        return Candidate.of_row(rows[0]) if rows else Candidate(brand_id)

    def _change(self, before: Candidate, after: Candidate) -> None:
        """Moves the brand's row from `before` to `after` in one transaction, or refuses."""
        position = f"{REGISTRY.name}:{before.brand_id}"
        store = self.runner.store
        store.install_position(position)
        revision = store.position(position)
        if self.candidate(before.brand_id) != before or not store.apply(
            position, revision, revision + 1, [Upsert(REGISTRY, (before.brand_id,), after.row())]
        ):
            raise Conflict("the brand's commission view candidate changed meanwhile; read again")

    def sync(self) -> None:
        """Keeps exactly the waiting candidates live in this process."""
        rows = self.runner.store.select(REGISTRY, {})
        waiting = [c for c in map(Candidate.of_row, rows) if c.number is not None]
        for candidate in waiting:
            if candidate.name not in self.runner.projections:
                self.runner.register(CommissionView(candidate.name, self.rule_change(candidate)))
        for name in self.candidate_names() - {c.name for c in waiting}:
            self.runner.retire(name)

    def candidate_names(self) -> set[str]:
        """The candidates' projections live here: built or being built, they serve no reads."""
        return {name for name in self.runner.projections if name.startswith(f"{CANDIDATE}_")}

    def rule_change(self, candidate: Candidate) -> RuleChange:
        """The rules the candidate is built under: those the brand had published when it was
        built, and its proposal."""
        published = self.commissions.policies(candidate.brand_id)[: candidate.published]
        return RuleChange(candidate.brand_id, tuple(published), candidate.proposal)

    # --- rebuild, diff, promote, discard --------------------------------------------------

    def rebuild(
        self,
        brand_id: UUID,
        proposal: CommissionPolicy | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Candidate:
        """Registers the brand's candidate under its rules as published and `proposal`, and
        builds it: in the background, or here, reporting to `progress`, when one is given."""
        change = self.commissions.rule_change(brand_id, proposal)
        before = self.candidate(brand_id)
        if before.number is not None:
            raise Conflict(
                f"candidate {before.number} of the brand's commission view is waiting: "
                "promote or discard it"
            )
        number = before.built + 1
        after = Candidate(brand_id, number, number, len(change.published), change.proposal)
        self._change(before, after)
        self.sync()
        self.accrue_paid()
        if progress is not None:
            self.runner.process(after.name, progress)
            return after
        built = threading.Thread(
            target=self.runner.process,
            args=(after.name, partial(self.progress.__setitem__, after.name)),
            name=f"rebuild-{brand_id}",
            daemon=True,
        )
        self.building[brand_id] = built
        built.start()
        return after

    def status(self, brand_id: UUID) -> CandidateStatus:
        candidate = self._waiting(brand_id)
        ready = not self._building(brand_id) and self.runner.caught_up(candidate.name)
        return CandidateStatus(candidate, self.progress.get(candidate.name, 0), ready)

    def _waiting(self, brand_id: UUID) -> Candidate:
        self.sync()
        candidate = self.candidate(brand_id)
        if candidate.number is None:
            raise NotFound("the brand has no candidate commission view: ask for a rebuild")
        return candidate

    def _building(self, brand_id: UUID) -> bool:
        built = self.building.get(brand_id)
        return built is not None and built.is_alive()

    def wait(self) -> None:
        """Until the candidates this process is building have caught up (CLI and tests)."""
        for built in list(self.building.values()):
            built.join()

    def diff(self, brand_id: UUID) -> list[DiffLine]:
        return self._diff(self._caught_up(brand_id))

    def _caught_up(self, brand_id: UUID) -> Candidate:
        """The brand's candidate, once it has folded every accrual of the orders paid."""
        candidate = self._waiting(brand_id)
        if self._building(brand_id):
            raise Conflict("the candidate is still catching up")
        self.accrue_paid()
        self.runner.process(candidate.name)
        return candidate

    def _diff(self, candidate: Candidate) -> list[DiffLine]:
        brand_id = candidate.brand_id
        self.runner.process(SERVING)
        return diff(
            self.runner.select(self._table(SERVING), {"brand_id": brand_id}),
            self.runner.select(self._table(candidate.name), {}),
            partial(self.commissions.first_open_period, brand_id),
        )

    def _table(self, name: str) -> Table:
        view = self.runner.projections[name]
        assert isinstance(view, CommissionView), "a commission view's projection"
        return view.table

    def promote(self, command: Command, brand_id: UUID) -> CommandResult:
        """Books the candidate's difference (`RuleChanges.book_rule_change`) and retires it."""
        answered = self.commissions.first_outcome(command)
        if answered is not None:
            return answered
        candidate = self._caught_up(brand_id)
        orders = {order.order_id for line in self._diff(candidate) for order in line.orders}
        change = self.rule_change(candidate)
        booked = self.commissions.book_rule_change(command, change, sorted(orders, key=str))
        self._change(candidate, replace(candidate, number=None, published=0, proposal=None))
        self.sync()
        return booked

    def discard(self, brand_id: UUID) -> Candidate:
        candidate = self._waiting(brand_id)
        if self._building(brand_id):
            raise Conflict("the candidate is still catching up; discard it once built")
        self._change(candidate, replace(candidate, number=None, published=0, proposal=None))
        self.sync()
        return candidate

    def serving(self, brand_id: UUID, period: str) -> list[dict[str, Any]]:
        """Each payee's commission in the period, as the ledger booked it."""
        self.accrue_paid()
        self.runner.process(SERVING)
        totals: dict[str, int] = {}
        where = {"brand_id": brand_id, "period": period}
        for row in self.runner.select(self._table(SERVING), where):
            totals[row["payee"]] = totals.get(row["payee"], 0) + row["amount_fen"]
        return [{"payee": p, "amount_fen": a} for p, a in sorted(totals.items())]
