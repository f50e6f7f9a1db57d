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
    """The client's key, whose key it is and for what, and a fingerprint of the request.

    `scope` names the caller and the operation (`frontend:mall POST /orders`): the same
    key in another scope is another key, so neither two callers nor one caller's two
    operations answer each other's retries. Empty, the key stands alone, as every key did
    before keys had scopes."""

    key: str
    fingerprint: str
    scope: str = ""

    @property
    def scoped(self) -> str:
        """The key within its scope: what its record, and any id derived from the key, is
        named by (the API's keys hold no line break, so no two scopes' keys read the same)."""
        return f"{self.scope}\n{self.key}" if self.scope else self.key


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
    """The first outcome of a command sent with an idempotency key. Its `key` is the key
    within its scope (`IdempotencyKey.scoped`; a record stored before keys had scopes
    holds the bare key)."""

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
