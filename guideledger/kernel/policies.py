"""A brand's book of one kind of policy (routing, attribution, commission).

Every rule is versioned, effective-dated data: publishing adds the next
version, which takes effect now or later, so a decision can always be re-run
with the version that was in force. Only a version its publisher lets reach
back (a commission policy, while every period it reaches is open) may take
effect in the past; what was decided under the version it replaces is then
corrected by its own command, never rewritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from guideledger.kernel.errors import RuleViolated
from guideledger.kernel.values import natural_id, require_utc


class Versioned(Protocol):
    @property
    def version(self) -> int: ...

    @property
    def effective_from(self) -> datetime: ...


P = TypeVar("P", bound=Versioned)
MAX_LEAD = timedelta(days=5 * 366)  # a rule is not published more than five years ahead


def in_force(policies: Sequence[P], at: datetime, default: P) -> P:
    """The latest of `policies` (oldest first) effective at `at`; `default` before any."""
    effective = [p for p in policies if p.effective_from <= at]
    found: P = effective[-1] if effective else default
    return found


class PolicyBook(Aggregate):
    @staticmethod
    def create_id(brand_id: UUID, kind: str) -> UUID:
        return natural_id("policy-book", brand_id, kind)

    class Opened(Aggregate.Created):
        brand_id: UUID
        kind: str

    @event(Opened)
    def __init__(self, brand_id: UUID, kind: str) -> None:
        self.brand_id = brand_id
        self.kind = kind
        self.policies: list[Any] = []

    def in_force(self, at: datetime, default: P) -> P:
        """The latest version effective at `at`; `default` (version 0) before any."""
        policies: list[P] = self.policies
        return in_force(policies, at, default)

    def admit(self, draft: P, occurred_at: datetime, reaches_back: bool = False) -> P:
        """The draft as the next version, if it may be published at `occurred_at`: now or
        later (or, when it `reaches_back`, earlier), never before the latest version."""
        occurred_at = require_utc(occurred_at)
        effective_from = require_utc(draft.effective_from)
        if effective_from < occurred_at and not reaches_back:
            raise RuleViolated("a policy cannot take effect in the past")
        if effective_from > occurred_at + MAX_LEAD:
            raise RuleViolated("a policy cannot take effect more than five years ahead")
        if self.policies and effective_from < self.policies[-1].effective_from:
            raise RuleViolated(
                "a new version cannot take effect before the latest one",
                latest_effective_from=self.policies[-1].effective_from.isoformat(),
            )
        policy: P = replace(draft, version=len(self.policies) + 1)  # type: ignore[type-var]
        return policy

    def publish(self, draft: P, occurred_at: datetime, actor: str, reaches_back: bool = False) -> P:
        policy = self.admit(draft, occurred_at, reaches_back)
        self._record_published(policy, require_utc(occurred_at), actor)
        return policy

    def publication(self, version: int) -> str | None:
        """The event that published `version` (`<book id>:<its version>`): the book opened
        as its first event and each version was published by the next one."""
        return f"{self.id}:{version + 1}" if 0 < version <= len(self.policies) else None

    class Published(Aggregate.Event):
        policy: Any
        occurred_at: datetime
        actor: str

    @event(Published)
    def _record_published(self, policy: Any, occurred_at: datetime, actor: str) -> None:
        self.policies.append(policy)
