"""Events as the library's mapper stored them before `TypedMapper`: JSON written by its
transcoder, value objects named by their classes' topics."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent

from guideledger.eventstore.application import LedgerApplication


def as_stored_in_json(application: LedgerApplication, stored: StoredEvent) -> StoredEvent:
    """The stored event as the application stored it before, in JSON."""
    event = application.mapper.to_domain_event(stored)
    json_mapper: Mapper[UUID] = Mapper(application.mapper.transcoder)
    return json_mapper.to_stored_event(event)
