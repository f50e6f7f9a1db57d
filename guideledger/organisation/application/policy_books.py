"""Reading and publishing a brand's versioned policies (routing, attribution, commission)."""

from __future__ import annotations

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
) -> CommandResult:
    """Adds the draft as the brand's next version of `kind`; the result's version is its number.

    `effective_now`: the version takes effect the instant it is published (its draft's
    `effective_from` is replaced: any instant the caller read earlier is in the past)."""

    def decide() -> Decision:
        organisation.fact(Brand, brand_id, "brand_id")
        book_id = PolicyBook.create_id(brand_id, kind)
        book = application.find(PolicyBook, book_id) or PolicyBook(brand_id, kind)
        now = application.clock.now()
        policy = book.publish(
            replace(draft, effective_from=now) if effective_now else draft, now, command.actor
        )
        return [book], CommandResult(book.id, policy.version)

    return application.execute(command, decide)
