"""Blue/green versions of the commission view: one serving, at most one candidate.

A rebuild registers a new version beside the serving one and catches it up from
event zero while the serving version keeps answering. The registry of versions
is one row whose changes go through the store's compare-and-set position, so a
promotion is one transaction and two admins cannot both promote or rebuild.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from guideledger.commissions.application.app import CommissionApplication
from guideledger.commissions.application.commission_view import NAME, CommissionView, DiffLine, diff
from guideledger.kernel.errors import Conflict, NotFound, RuleViolated
from guideledger.readmodels.model import Table, Upsert
from guideledger.readmodels.runner import ProjectionRunner

# The registry row keeps the name it had when the view followed the orders' log, so the
# versions promoted then (and a pending candidate) are still the ones served; each is built
# afresh under the view's new name.
REGISTRY_KEY = "commission_view"
REGISTRY = Table(
    name="read_model_versions",
    key=("read_model",),
    columns={
        "read_model": "text",
        "serving": "int",
        "serving_rules": "int",  # null: the rules in force at payment
        "candidate": "int",
        "candidate_rules": "int",
    },
)
REGISTRY_POSITION = "read_model_versions"
MakeView = Callable[[int, int | None], CommissionView]


@dataclass(frozen=True)
class Versions:
    serving: int = 1
    serving_rules: int | None = None
    candidate: int | None = None
    candidate_rules: int | None = None


class CommissionViewVersions:
    def __init__(
        self,
        runner: ProjectionRunner,
        commissions: CommissionApplication,
        make_view: MakeView,
        accrue_paid: Callable[[], object],
    ) -> None:
        """`accrue_paid` brings the accruals the views fold up to date with the orders
        (the commission process): a view read sees every order paid before it."""
        self.runner = runner
        self.commissions = commissions
        self.make_view = make_view
        self.accrue_paid = accrue_paid
        self.building: threading.Thread | None = None
        self.progress: dict[str, int] = {}  # events a rebuild in this process has applied
        runner.store.create_tables([REGISTRY])
        runner.store.install_position(REGISTRY_POSITION)
        self.sync()

    # --- the registry ----------------------------------------------------------------

    def versions(self) -> Versions:
        rows = self.runner.store.select(REGISTRY, {"read_model": REGISTRY_KEY})
        if not rows:
            return Versions()
        row = rows[0]
        return Versions(
            row["serving"], row["serving_rules"], row["candidate"], row["candidate_rules"]
        )

    def _change(self, before: Versions, after: Versions) -> None:
        """Moves the registry from `before` to `after` in one transaction, or refuses."""
        revision = self.runner.store.position(REGISTRY_POSITION)
        if self.versions() != before or not self.runner.store.apply(
            REGISTRY_POSITION,
            revision,
            revision + 1,
            [Upsert(REGISTRY, (REGISTRY_KEY,), vars(after))],
        ):
            raise Conflict("the read model's versions changed meanwhile; read them again")

    def sync(self) -> None:
        """Keeps exactly the registered versions live in this process."""
        versions = self.versions()
        wanted = {versions.serving: versions.serving_rules}
        if versions.candidate is not None:
            wanted[versions.candidate] = versions.candidate_rules
        for version, rules in wanted.items():
            if self.name(version) not in self.runner.projections:
                self.runner.register(self.make_view(version, rules))
        for name in [n for n in self.runner.projections if n.startswith(f"{NAME}_v")]:
            if name not in {self.name(v) for v in wanted}:
                self.runner.retire(name)

    @staticmethod
    def name(version: int) -> str:
        return f"{NAME}_v{version}"

    def candidate_name(self) -> str | None:
        """The projection of the candidate version, if there is one: built or being built,
        it serves no reads until it is promoted."""
        candidate = self.versions().candidate
        return None if candidate is None else self.name(candidate)

    # --- rebuild, diff, promote, discard --------------------------------------------------

    def rebuild(
        self, rules_version: int | None, progress: Callable[[int], None] | None = None
    ) -> int:
        """Registers a candidate version under `rules_version` and builds it: in the
        background, or here, reporting to `progress`, when one is given."""
        if rules_version is not None:
            self._check_published(rules_version)
        before = self.versions()
        if before.candidate is not None:
            raise Conflict(
                f"version {before.candidate} is already a candidate: promote or discard it"
            )
        candidate = before.serving + 1
        self._change(
            before, Versions(before.serving, before.serving_rules, candidate, rules_version)
        )
        self.sync()
        name = self.name(candidate)
        self.accrue_paid()
        if progress is not None:
            self.runner.process(name, progress)
            return candidate
        self.building = threading.Thread(
            target=self.runner.process,
            args=(name, lambda done: self.progress.__setitem__(name, done)),
            name="rebuild",
            daemon=True,
        )
        self.building.start()
        return candidate

    def _check_published(self, rules_version: int) -> None:
        highest = self.commissions.highest_rules_version()
        if rules_version > highest:
            raise RuleViolated(
                f"no brand has published commission rules version {rules_version}",
                rules_version=rules_version,
                highest_published=highest,
            )

    def status(self) -> dict[str, Any]:
        self.sync()
        versions = self.versions()
        status: dict[str, Any] = dict(vars(versions))
        if versions.candidate is not None:
            name = self.name(versions.candidate)
            status["candidate_events"] = self.progress.get(name, 0)
            status["candidate_ready"] = not self._building() and self.runner.caught_up(name)
        return status

    def _building(self) -> bool:
        return self.building is not None and self.building.is_alive()

    def wait(self) -> None:
        """Until the candidate this process is building has caught up (for the CLI and tests)."""
        if self.building is not None:
            self.building.join()

    def diff(self, brand_id: UUID) -> list[DiffLine]:
        self.sync()
        versions = self.versions()
        if versions.candidate is None:
            raise NotFound("there is no candidate version: ask for a rebuild first")
        candidate = self.name(versions.candidate)
        self.accrue_paid()
        if self._building() or not self.runner.caught_up(candidate):
            raise Conflict("the candidate version is still catching up")
        self.runner.process(self.name(versions.serving))
        where = {"brand_id": brand_id}
        return diff(
            self.runner.select(
                self.runner.projections[self.name(versions.serving)].tables[0], where
            ),
            self.runner.select(self.runner.projections[candidate].tables[0], where),
            lambda period: self.commissions.first_open_period(brand_id, period),
        )

    def promote(self) -> Versions:
        before = self.versions()
        if before.candidate is None:
            raise NotFound("there is no candidate version to promote")
        if self._building():
            raise Conflict("the candidate version is still catching up")
        after = Versions(before.candidate, before.candidate_rules)
        self._change(before, after)
        self.sync()
        return after

    def discard(self) -> Versions:
        before = self.versions()
        if before.candidate is None:
            raise NotFound("there is no candidate version to discard")
        if self._building():
            raise Conflict("the candidate version is still catching up; discard it once built")
        after = Versions(before.serving, before.serving_rules)
        self._change(before, after)
        self.sync()
        return after

    def serving(self, brand_id: UUID, period: str) -> list[dict[str, Any]]:
        """Each payee's commission in the period under the serving version's rules."""
        name = self.name(self.versions().serving)
        self.sync()
        self.accrue_paid()
        self.runner.process(name)
        totals: dict[str, int] = {}
        for row in self.runner.select(
            self.runner.projections[name].tables[0], {"brand_id": brand_id, "period": period}
        ):
            totals[row["payee"]] = totals.get(row["payee"], 0) + row["amount_fen"]
        return [{"payee": p, "amount_fen": a} for p, a in sorted(totals.items())]
