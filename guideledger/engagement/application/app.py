"""The engagement context: guides' shares and the reach and add-to-carts they bring."""

from __future__ import annotations

import secrets
from uuid import UUID

from guideledger.engagement.domain import Share, ShareKind
from guideledger.eventstore.application import LedgerApplication, Runtime
from guideledger.eventstore.commands import Command, CommandResult, Decision
from guideledger.kernel.errors import AlreadyExists, RuleViolated
from guideledger.kernel.values import natural_id
from guideledger.organisation.application.app import OrganisationApplication
from guideledger.organisation.domain.brand import Brand
from guideledger.organisation.domain.catalogue import Sku
from guideledger.organisation.domain.guides import Guide
from guideledger.organisation.domain.units import StoreSnapshot


class EngagementApplication(LedgerApplication):
    name = "engagement"
    value_types = (StoreSnapshot,)

    def __init__(
        self,
        runtime: Runtime,
        organisation: OrganisationApplication,
    ) -> None:
        super().__init__(runtime)
        self.organisation = organisation

    def share(
        self, command: Command, guide_id: UUID, kind: ShareKind, sku_id: UUID | None = None
    ) -> tuple[CommandResult, str]:
        """Records a guide's share; returns the share code to embed in the link or QR code."""
        if command.idempotency is not None:
            share_code = natural_id("share-code", command.idempotency.scoped).hex[:12].upper()
        else:
            share_code = secrets.token_hex(6).upper()

        def decide() -> Decision:
            guide = self.organisation.reference(Guide, guide_id, "guide_id")
            if not guide.is_active:
                raise RuleViolated("a guide who has left cannot share")
            if sku_id is not None:
                sku = self.organisation.fact(Sku, sku_id, "sku_id")
                if sku.brand_id != guide.brand_id:
                    raise RuleViolated("the SKU belongs to another brand")
            if self.exists(Share, Share.create_id(share_code)):
                raise AlreadyExists("that share code is taken")
            share = Share.record(
                share_code=share_code,
                brand_id=guide.brand_id,
                guide_id=guide.id,
                store=self.organisation.store_snapshot(guide.store_id),
                kind=kind,
                sku_id=sku_id,
                time_zone=self.organisation.fact(Brand, guide.brand_id, "brand_id").time_zone,
                occurred_at=self.clock.now(),
                actor=command.actor,
            )
            return [share], CommandResult(share.id, share.version)

        return self.execute(command, decide), share_code

    def record_visits(self, command: Command, share_code: str, count: int = 1) -> CommandResult:
        return self.update(
            command,
            Share,
            Share.create_id(share_code),
            None,
            lambda share: share.record_visits(
                count, self._time_zone(share), self.clock.now(), command.actor
            ),
        )

    def record_add_to_carts(
        self, command: Command, share_code: str, count: int = 1
    ) -> CommandResult:
        return self.update(
            command,
            Share,
            Share.create_id(share_code),
            None,
            lambda share: share.record_add_to_carts(
                count, self._time_zone(share), self.clock.now(), command.actor
            ),
        )

    def _time_zone(self, share: Share) -> str:
        """The share's brand's time zone, in which its activity's days are cut."""
        return self.organisation.fact(Brand, share.brand_id, "brand_id").time_zone

    def get_share(self, share_code: str) -> Share:
        return self.load(Share, Share.create_id(share_code))
