"""Personal data, sealed under a key of the member it belongs to.

The domain only carries sealed values; whoever holds the member's key can open
them. Forgetting a member deletes the key: every sealed value of theirs, in
every event ever stored, becomes unreadable, while orders, attribution and the
ledger (which hold no personal data) stay whole.

A delivery point is personal too, but routing needs it while the order may still be
routed, and routing explanations and analytics need to know roughly where it went.
So an event keeps the exact point sealed and its *area* (`area_of`, about a kilometre)
in the clear: once the member is forgotten, only the area is left.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from guideledger.kernel.values import GeoPoint

#: Degrees kept of a point's area: a hundredth of a degree is 1.1 km north to south and
#: less east to west, so the area is within about 0.8 km of the point.
AREA_DECIMALS = 2


@dataclass(frozen=True)
class Sealed:
    member_id: UUID
    ciphertext: str  # base64 of nonce and ciphertext


class Vault(Protocol):
    def seal(self, member_id: UUID, text: str) -> Sealed: ...

    def unseal(self, sealed: Sealed) -> str | None:
        """The text, or None once the member has been forgotten."""
        ...

    def holds_key(self, member_id: UUID) -> bool:
        """False once the member has been forgotten (or before anything of theirs was
        sealed)."""
        ...

    def forget(self, member_id: UUID) -> None: ...


def area_of(point: GeoPoint) -> GeoPoint:
    """The point to about a kilometre: what may be kept of it in the clear."""
    return GeoPoint(round(point.latitude, AREA_DECIMALS), round(point.longitude, AREA_DECIMALS))


def seal_point(vault: Vault, member_id: UUID, point: GeoPoint) -> Sealed:
    return vault.seal(member_id, f"{point.latitude!r},{point.longitude!r}")


def unseal_point(vault: Vault, sealed: Sealed) -> GeoPoint | None:
    """The exact point, or None once the member has been forgotten."""
    text = vault.unseal(sealed)
    if text is None:
        return None
    latitude, longitude = text.split(",")
    return GeoPoint(float(latitude), float(longitude))
