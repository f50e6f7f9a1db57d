"""The domain's error hierarchy.

Each error carries a stable `type` slug; the API maps the three families
(not found, conflict, rule violated) to HTTP once, in one exception handler.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """A command was refused by a rule; nothing was recorded."""

    type: ClassVar[str] = "domain-error"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class NotFound(DomainError):
    type = "not-found"


class RuleViolated(DomainError):
    """The command is well formed but breaks an invariant of the domain."""

    type = "rule-violated"


class InvalidValue(RuleViolated):
    type = "invalid-value"


class Conflict(DomainError):
    """The command collided with the current state written by someone else."""

    type = "conflict"


class AlreadyExists(Conflict):
    type = "already-exists"
