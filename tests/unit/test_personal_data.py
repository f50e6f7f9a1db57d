"""Every field of every event that can hold a member's personal data, and how it is kept.

Each field of an event, or of a value object inside one, that holds text, a position or a
distance is declared below: as personal, and then sealed under the member's key (gone
when the key is deleted) or kept only to about a kilometre; or as holding no member's
data, with the reason. The walk over every event class fails on a field declared in
neither table, so a new personal field cannot slip in unnoticed.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterator
from enum import Enum
from typing import Any

import pytest

from guideledger.kernel.privacy import AREA_DECIMALS, Sealed, area_of
from guideledger.kernel.values import GeoPoint
from tests.events import event_classes

SEALED = "sealed under the member's key"
AREA = "kept to about a kilometre"

#: A member's data in events. A sealed field's text type, where it has one, is what was
#: recorded before such fields were sealed: readers show it only while the key exists.
PERSONAL = {
    "Member.Registered.member_no": SEALED,
    "Member.Registered.name": SEALED,
    "Member.Registered.phone": SEALED,
    "DeliveryAddress.address": SEALED,
    "DeliveryAddress.exact": SEALED,
    "AttributionEvidence.guide_note": SEALED,
    "Order.Cancelled.reason": SEALED,
    "Order.ItemsReturned.reason": SEALED,
    "DeliveryAddress.location": AREA,
    "DeliveryAddress.city": "kept: a city, coarser than the area",
    "Allocation.distance_km": AREA,
    "CandidateOutcome.distance_km": AREA,
}

WHO_ACTED = "the token's subject: a frontend, a staff account or the system"
OWN_ID = "an id or reference the system or a carrier issued, naming no one"
VOCABULARY = "a word from a fixed vocabulary or a value the system computed"
DAY = "a day or period"
ORGANISATION = "the brand's organisation and catalogue, public or staff-facing"
STAFF_WORDS = "staff's words about stock, nodes or bindings, never a customer's"
EMPLOYEE = "a guide's work identity, which the brand publishes to customers"

#: Fields that hold no member's data, and why. `*` stands for every event.
NOT_PERSONAL = {
    "*.actor": WHO_ACTED,
    "*.originator_topic": "the class of the aggregate",
    "Allocation.kind": VOCABULARY,
    "Attribution.notes": "the attribution rules' own explanations",
    "Attribution.rule": VOCABULARY,
    "AttributionEvidence.share_code": "a guide's share link",
    "Branch.Registered.code": ORGANISATION,
    "Branch.Registered.name": ORGANISATION,
    "Brand.Registered.code": ORGANISATION,
    "Group.Registered.code": ORGANISATION,
    "Group.Registered.name": ORGANISATION,
    "Brand.Registered.name": ORGANISATION,
    "Brand.Registered.settlement_cadence": VOCABULARY,
    "Brand.Registered.time_zone": VOCABULARY,
    "Brand.SettlementCadenceChanged.cadence": VOCABULARY,
    "BrandPeriodClose.Started.period": DAY,
    "CandidateOutcome.kind": VOCABULARY,
    "CandidateOutcome.reason": "routing's own explanation",
    "CommissionAccrual.Accrued.paid_event": OWN_ID,
    "CommissionAccrual.Corrected.deltas": "payees: a level and an id",
    "CommissionAccrual.DeliveryRecorded.delivered_event": OWN_ID,
    "CommissionAccrual.Matured.period": DAY,
    "CommissionAccrual.Reversed.deltas": "payee levels",
    "District.Registered.code": ORGANISATION,
    "District.Registered.name": ORGANISATION,
    "Entry.account": "a ledger account: a payee level, an id and a bucket",
    "Guide.Hired.code": EMPLOYEE,
    "Guide.Hired.name": EMPLOYEE,
    "Guide.Left.reason": "the brand's words about its employee, never a customer's",
    "IdempotencyRecord.Recorded.fingerprint": "a digest of the request, not its body",
    "IdempotencyRecord.Recorded.key": "the frontend's retry key",
    "Member.Forgotten.reason": "support's record of the erasure, written as the key is deleted",
    "MemberBinding.Bound.reason": STAFF_WORDS,
    "MemberBinding.Released.reason": STAFF_WORDS,
    "Node.Registered.city": "the city a store or warehouse is in",
    "Node.OpeningHoursSet.closes": "a store's closing time",
    "Node.OpeningHoursSet.opens": "a store's opening time",
    "Node.Paused.reason": STAFF_WORDS,
    "Node.Registered.code": ORGANISATION,
    "Node.Registered.kind": VOCABULARY,
    "Node.Registered.location": "where a store or warehouse stands",
    "Node.Registered.name": ORGANISATION,
    "Node.Registered.ownership": VOCABULARY,
    "NodeDailyLoad.Opened.day": DAY,
    "Order.AttributionCorrected.reason": "support's words for moving a sale between guides",
    "Order.AttributionCorrected.sales_day": DAY,
    "Order.Delivered.shipment_id": OWN_ID,
    "Order.ItemsExchanged.exchange_id": OWN_ID,
    "Order.ItemsReturned.return_id": OWN_ID,
    "Order.Paid.payment_ref": "the payment provider's reference, kept for the accounts",
    "Order.Paid.transaction_id": "the payment provider's transaction id, kept for the accounts",
    "ProviderTransaction.Recorded.transaction_id": OWN_ID,
    "Discount.name": ORGANISATION,
    "Sku.PromotionPublished.name": ORGANISATION,
    "Order.Paid.sales_day": DAY,
    "Order.Refunded.refund_id": OWN_ID,
    "Order.Refunded.sales_day": DAY,
    "Order.Shipped.shipment_id": OWN_ID,
    "OrderFacts.channel": VOCABULARY,
    "OrderFacts.paid_period": DAY,
    "PolicyBook.Opened.kind": VOCABULARY,
    "PolicyBook.Published.policy": "a brand's routing, attribution or commission policy",
    "Posting.period": DAY,
    "Posting.posting_id": OWN_ID,
    "Posting.source_events": OWN_ID,
    "Region.Registered.code": ORGANISATION,
    "Region.Registered.name": ORGANISATION,
    "RoutingDecision.reason": "routing's own explanation",
    "SaleLine.category": ORGANISATION,
    "SettlementPeriod.Opened.period": DAY,
    "SettlementPeriod.PaidOut.reference": "finance's payout reference to a guide or store",
    "Share.Activity.day": DAY,
    "Share.AddedToCart.day": DAY,
    "Share.Shared.day": DAY,
    "Share.Shared.kind": VOCABULARY,
    "Share.Shared.share_code": OWN_ID,
    "Share.Visited.day": DAY,
    "Sku.Registered.category": ORGANISATION,
    "Sku.Registered.code": ORGANISATION,
    "Sku.Registered.name": ORGANISATION,
    "StatementLine.description": "the ledger's own words",
    "StatementLine.held": "a ledger account: a store's id, its held bucket and a guide's id",
    "StatementLine.kind": VOCABULARY,
    "StatementLine.posting_id": OWN_ID,
    "StatementLine.source_events": OWN_ID,
    "Stock.Adjusted.reason": STAFF_WORDS,
    "Stock.Received.reference": "a shipping notice or transfer number",
}

#: What can hold a member's data: text, a position, a distance, or anything (`Any`).
CAN_HOLD = (str, float, GeoPoint, Sealed)
NOT_EVENT_STATE = ("originator_id", "originator_version")


def fields_of(owner: str, cls: type, seen: frozenset[type]) -> Iterator[tuple[str, set[Any]]]:
    """Every field, in events and the value objects inside them, whose types can hold a
    member's data: (`Owner.field`, those types)."""
    for name, hint in typing.get_type_hints(cls).items():
        if name in NOT_EVENT_STATE or typing.get_origin(hint) is typing.ClassVar:
            continue
        leaves = set(_leaves(hint))
        for value_object in sorted(leaves - set(CAN_HOLD) - {Any}, key=str):
            if value_object not in seen:
                yield from fields_of(value_object.__qualname__, value_object, seen | {cls})
        holding = {leaf for leaf in leaves if leaf is Any or leaf in CAN_HOLD}
        if holding:
            yield f"{owner}.{name}", holding


def _leaves(hint: Any) -> Iterator[Any]:
    """The types a field's values can be: text, positions, distances and value objects;
    not numbers, ids, instants or words of a fixed vocabulary (enums)."""
    if typing.get_args(hint):
        for arg in typing.get_args(hint):
            if arg is not Ellipsis:
                yield from _leaves(arg)
    elif (
        hint is Any
        or hint in CAN_HOLD
        or (dataclasses.is_dataclass(hint) and isinstance(hint, type))
    ):
        yield hint
    elif isinstance(hint, type) and issubclass(hint, str) and not issubclass(hint, Enum):
        yield str  # a text type of the domain's own, such as `Account`


def every_field() -> dict[str, set[Any]]:
    found: dict[str, set[Any]] = {}
    for cls in event_classes():
        for field, types in fields_of(cls.__qualname__, cls, frozenset()):
            found.setdefault(field, set()).update(types)
    return found


def declared(field: str) -> bool:
    wildcard = "*." + field.rsplit(".", 1)[1]
    return field in PERSONAL or field in NOT_PERSONAL or wildcard in NOT_PERSONAL


def test_every_field_that_can_hold_personal_data_is_declared() -> None:
    undeclared = sorted(field for field in every_field() if not declared(field))
    assert not undeclared, f"declare in PERSONAL or NOT_PERSONAL: {undeclared}"


def test_no_field_is_declared_both_personal_and_not() -> None:
    assert not PERSONAL.keys() & NOT_PERSONAL.keys()


def test_every_declared_field_exists() -> None:
    fields = every_field()
    names = {field.rsplit(".", 1)[1] for field in fields}
    stale = [f for f in [*PERSONAL, *NOT_PERSONAL] if f not in fields and f[2:] not in names]
    assert not stale, f"no such field any more: {stale}"


@pytest.mark.parametrize("field", sorted(f for f, how in PERSONAL.items() if how == SEALED))
def test_a_sealed_field_is_recorded_sealed(field: str) -> None:
    assert Sealed in every_field()[field]


def test_only_personal_fields_are_sealed() -> None:
    sealed = {field for field, types in every_field().items() if Sealed in types}
    assert sealed == {f for f, how in PERSONAL.items() if how == SEALED}


def test_an_area_is_within_a_kilometre_of_its_point() -> None:
    half_cell_km = 0.5 * 10**-AREA_DECIMALS * 111.2 * 2**0.5  # a cell's half diagonal
    for point in (GeoPoint(31.230416, 121.473701), GeoPoint(-33.868820, 151.209296)):
        area = area_of(point)
        assert point.distance_km(area) <= half_cell_km < 1.0
        assert area_of(area) == area
