"""Reading and publishing a brand's versioned policies (routing, attribution, commission)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from guideledger.eventstore.application import LedgerApplication
from guideledger.eventstore.commands import Command, CommandResult, Decision
from guideledger.eventstore.repository import LedgerRepository, find
from guideledger.kernel.policies import PolicyBook, Versioned
from guideledger.organisation.application.app import OrganisationApplication
from guideledger.organisation.domain.brand import Brand

P = TypeVar("P", bound=Versioned)
ReachBack = Callable[[UUID, datetime, datetime], None]
"""Checks that the brand's version taking effect at the first instant, before the second
(now), may reach back that far; raises if not."""


def policy_in_force(
    repository: LedgerRepository, brand_id: UUID, kind: str, at: datetime, default: P
) -> P:
    """The version in force at `at`; `default` (version 0) if the brand published none."""
    book = find(repository, PolicyBook, PolicyBook.create_id(brand_id, kind), for_change=False)
    return book.in_force(at, default) if book else default


def published(repository: LedgerRepository, brand_id: UUID, kind: str) -> list[Any]:
    book = find(repository, PolicyBook, PolicyBook.create_id(brand_id, kind), for_change=False)
    return list(book.policies) if book else []


def publish(
    application: LedgerApplication,
    organisation: OrganisationApplication,
    command: Command,
    brand_id: UUID,
    kind: str,
    draft: Any,
    effective_now: bool = False,
    reach_back: ReachBack | None = None,
) -> CommandResult:
    """Adds the draft as the brand's next version of `kind`; the result's version is its number.

    `effective_now`: the version takes effect the instant it is published (its draft's
    `effective_from` is replaced: any instant the caller read earlier is in the past).
    `reach_back`: a draft taking effect in the past is published if it passes (None: no
    version of `kind` may take effect in the past)."""

    def decide() -> Decision:
        organisation.fact(Brand, brand_id, "brand_id")
        book_id = PolicyBook.create_id(brand_id, kind)
        book = application.find(PolicyBook, book_id) or PolicyBook(brand_id, kind)
        now = application.clock.now()
        policy = replace(draft, effective_from=now) if effective_now else draft
        reaches_back = reach_back is not None and policy.effective_from < now
        if reach_back is not None and reaches_back:
            reach_back(brand_id, policy.effective_from, now)
        policy = book.publish(policy, now, command.actor, reaches_back)
        return [book], CommandResult(book.id, policy.version)

    return application.execute(command, decide)
