"""Read models the attribution context keeps: each member's bound guide."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from guideledger.attribution.domain.binding import MemberBinding
from guideledger.readmodels.model import Projection, RowChange, Table, Upsert

MEMBER_BINDINGS = Table(
    name="member_bindings",
    key=("binding_id",),
    columns={
        "binding_id": "uuid",
        "member_id": "uuid",
        "brand_id": "uuid",
        "guide_id": "uuid",
        "protected_until": "timestamp",
    },
    indexes=(("guide_id",), ("member_id",)),
)


class MemberBindings(Projection):
    """Each member's bound guide per brand, so a departing guide's members can be found."""

    name = "member_bindings"
    application = "orders"
    tables = (MEMBER_BINDINGS,)
    handles = tuple((MemberBinding, name) for name in ("Opened", "Bound", "Released"))

    def changes(self, event: Any) -> Iterable[RowChange]:
        key = (event.originator_id,)
        match type(event).__name__:
            case "Opened":
                row = {"member_id": event.member_id, "brand_id": event.brand_id}
                return [Upsert(MEMBER_BINDINGS, key, row)]
            case "Bound":
                row = {"guide_id": event.guide_id, "protected_until": event.protected_until}
                return [Upsert(MEMBER_BINDINGS, key, row)]
            case "Released":
                return [Upsert(MEMBER_BINDINGS, key, {"guide_id": None, "protected_until": None})]
        return []
