"""The published-events contract: a JSON Schema per event type, kept in the repository."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from jsonschema import Draft202012Validator, ValidationError

from guideledger.feed.contract import (
    CONTRACT_VERSION,
    EventType,
    IntegrationEvent,
    Position,
    schema,
)


@pytest.mark.parametrize("event_type", list(EventType), ids=str)
def test_each_event_type_has_a_valid_schema_of_the_contract_version(event_type: EventType) -> None:
    kept = schema(event_type)
    Draft202012Validator.check_schema(kept)
    assert kept["properties"]["type"] == {"const": str(event_type)}
    assert kept["properties"]["version"] == {"const": CONTRACT_VERSION}


def delivered(**data: object) -> IntegrationEvent:
    position = Position("orders", 7, uuid4(), 3)
    return IntegrationEvent(
        EventType.ORDER_DELIVERED,
        uuid4(),
        uuid4(),
        position,
        datetime(2026, 11, 2, tzinfo=UTC),
        {"order_id": str(position.aggregate_id), "order_version": 3, **data},
    )


def test_an_event_not_matching_its_schema_is_refused() -> None:
    validator = Draft202012Validator(schema(EventType.ORDER_DELIVERED))
    validator.validate(delivered(shipment_id="p1").to_json())
    with pytest.raises(ValidationError):
        validator.validate(delivered().to_json())
    with pytest.raises(ValidationError):
        validator.validate(delivered(shipment_id="p1", member_name="Li").to_json())


def test_an_event_id_is_the_same_for_every_send_of_one_domain_event() -> None:
    event = delivered(shipment_id="p1")
    again = IntegrationEvent(
        event.type, event.group_id, event.brand_id, event.position, event.occurred_at, event.data
    )
    moved = Position("orders", 7, event.position.aggregate_id, 4)
    assert again.event_id == event.event_id
    assert delivered(shipment_id="p1").event_id != event.event_id
    assert IntegrationEvent(**{**vars(event), "position": moved}).event_id != event.event_id
