"""Read models the attribution context keeps: each member's bound guide."""

from __future__ import annotations

from guideledger.attribution.domain.binding import MemberBinding
from guideledger.readmodels.model import Projection, RowChange, Table, Upsert, on

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

    @on(MemberBinding.Opened)
    def opened(self, event: MemberBinding.Opened) -> list[RowChange]:
        row = {"member_id": event.member_id, "brand_id": event.brand_id}
        return [Upsert(MEMBER_BINDINGS, (event.originator_id,), row)]

    @on(MemberBinding.Bound)
    def bound(self, event: MemberBinding.Bound) -> list[RowChange]:
        row = {"guide_id": event.guide_id, "protected_until": event.protected_until}
        return [Upsert(MEMBER_BINDINGS, (event.originator_id,), row)]

    @on(MemberBinding.Released)
    def released(self, event: MemberBinding.Released) -> list[RowChange]:
        row = {"guide_id": None, "protected_until": None}
        return [Upsert(MEMBER_BINDINGS, (event.originator_id,), row)]
