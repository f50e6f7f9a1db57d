"""Commands: who acts, the outcome, and the idempotency record that makes a retry return
the first outcome and write nothing (it is saved in the same transaction as the command's
events, so a crash can never keep one without the other)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from guideledger.kernel.errors import Conflict, DomainError, RuleViolated
from guideledger.kernel.values import natural_id


class VersionConflict(Conflict):
    type = "version-conflict"


class UnknownReference(RuleViolated):
    """The command names something that does not exist (or not in this brand)."""

    type = "unknown-reference"


class IdempotencyKeyReused(DomainError):
    """The key was first used for a different request."""

    type = "idempotency-key-reused"


@dataclass(frozen=True)
class IdempotencyKey:
    """The client's key and a fingerprint of the request it was first sent with."""

    key: str
    fingerprint: str


@dataclass(frozen=True)
class CommandResult:
    id: UUID
    version: int


@dataclass(frozen=True)
class Command:
    """Who acts, and how a retry is recognised."""

    actor: str
    idempotency: IdempotencyKey | None = None


class IdempotencyRecord(Aggregate):
    """The first outcome of a command sent with an idempotency key."""

    @staticmethod
    def create_id(key: str) -> UUID:
        return natural_id("idempotency", key)

    class Recorded(Aggregate.Created):
        key: str
        fingerprint: str
        result_id: UUID
        result_version: int

    @event(Recorded)
    def __init__(self, key: str, fingerprint: str, result_id: UUID, result_version: int) -> None:
        self.key = key
        self.fingerprint = fingerprint
        self.result = CommandResult(result_id, result_version)


Decision = tuple[Iterable[Aggregate], CommandResult]
