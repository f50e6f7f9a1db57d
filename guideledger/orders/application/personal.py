"""An order's personal data: sealed under the member's key when it is recorded, and shown
to the order's readers only while the member has not been forgotten.

Recorded sealed: the delivery address and the exact delivery point (`seal_delivery`), the
note naming a guide that the customer wrote (`seal_evidence`), and the reason a customer
gives for cancelling or returning (sealed by those commands). In the clear an order keeps
its delivery area (about a kilometre) and routing distances measured from that area, so
the stored events say no more of where the member lives once the key is deleted.

Read (`PersonalData`): while the member's key exists, sealed values open and the exact
point is given (routing a waiting order again needs it). Once the member is forgotten,
sealed values read null by themselves. Orders recorded before these were sealed keep a
note, a reason, the exact point and exact distances in the clear, which deleting a key
cannot shred: their readers get null for those texts, the area for the point and no
distances.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from uuid import UUID

from guideledger.attribution.domain.rules import AttributionEvidence
from guideledger.kernel.privacy import Sealed, Vault, area_of, seal_point, unseal_point
from guideledger.kernel.values import GeoPoint, require_text
from guideledger.orders.domain.lines import DeliveryAddress

#: The order's events that recorded a customer's text in the clear before it was sealed.
CUSTOMER_REASONS = frozenset({"Cancelled", "ItemsReturned"})


def seal_delivery(
    vault: Vault, member_id: UUID, address: str, point: GeoPoint, city: str | None = None
) -> DeliveryAddress:
    """Where an order goes, as it is recorded: the address and the point sealed, the
    point's area and the city in the clear."""
    return DeliveryAddress(
        vault.seal(member_id, require_text("address", address, 500)),
        area_of(point),
        seal_point(vault, member_id, point),
        None if city is None else require_text("city", city, 64),
    )


def seal_evidence(
    vault: Vault, member_id: UUID, evidence: AttributionEvidence
) -> AttributionEvidence:
    """The evidence as it is recorded: the customer's note naming a guide, sealed."""
    if not isinstance(evidence.guide_note, str):
        return evidence
    return dataclasses.replace(evidence, guide_note=vault.seal(member_id, evidence.guide_note))


def seal_reason(vault: Vault, member_id: UUID, reason: str) -> Sealed:
    """A customer's reason for cancelling or returning, as it is recorded."""
    return vault.seal(member_id, require_text("reason", reason, 500))


class PersonalData:
    """Opens what an order recorded of its member, for the order's readers."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault

    def forgotten(self, member_id: UUID) -> bool:
        """Asked once per read: the other methods are told the answer."""
        return not self.vault.holds_key(member_id)

    def text(self, value: Sealed | str | None, forgotten: bool) -> str | None:
        """A customer's text, sealed or (recorded before it was) in the clear."""
        if value is None or forgotten:
            return None
        if isinstance(value, Sealed):
            return self.vault.unseal(value)
        return value

    def point(self, delivery: DeliveryAddress, forgotten: bool) -> GeoPoint:
        """The exact delivery point while the member's key exists, else its area."""
        if forgotten:
            return delivery.area
        if delivery.exact is not None:
            return unseal_point(self.vault, delivery.exact) or delivery.area
        return delivery.location

    def facts(self, event: str, data: dict[str, Any], forgotten: bool) -> dict[str, Any]:
        """An order event's data as its history shows it: sealed values opened, and once
        the member is `forgotten`, no text of theirs, no point finer than its area and no
        distances."""
        shown = {name: self._fact(name, value, forgotten) for name, value in data.items()}
        if event in CUSTOMER_REASONS:
            shown["reason"] = self.text(data["reason"], forgotten)
        return shown

    def _fact(self, name: str, value: Any, forgotten: bool) -> Any:
        if isinstance(value, Sealed):
            return self.text(value, forgotten)
        if isinstance(value, DeliveryAddress):
            address = self.text(value.address, forgotten)
            return {"address": address, "location": self.point(value, forgotten)}
        if name == "guide_note":
            return self.text(value, forgotten)
        if name == "distance_km" and forgotten:
            return None
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {
                field.name: self._fact(field.name, getattr(value, field.name), forgotten)
                for field in dataclasses.fields(value)
            }
        if isinstance(value, tuple | list):
            return [self._fact(name, item, forgotten) for item in value]
        return value
