"""Statement lines as stored: a line stored before lines could name a share a store holds
reads as the payee's own, in MessagePack and in JSON, and the audit reads a held line
stored in JSON as one stored in MessagePack."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import cast

import msgspec
import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import resolve_topic

from guideledger.attribution.domain.rules import AttributionEvidence, Channel
from guideledger.bootstrap import bootstrap
from guideledger.commissions.application.audit_events import LineAdded
from guideledger.commissions.domain.settlement import SettlementPeriod
from guideledger.composition import Ledger
from guideledger.eventstore.codec import Stored, view_decoder
from guideledger.platform.clock import ManualClock
from guideledger.platform.settings import Persistence, Settings
from tests.scenarios.test_settlement_stories import sell, settle
from tests.stored_json import as_stored_in_json
from tests.world import build_world

START = datetime(2026, 11, 2, 2, tzinfo=UTC)


@pytest.fixture
def store_account_month() -> Iterator[Ledger]:
    """A store-account sale and a guide's own, settled into November."""
    with bootstrap(Settings(persistence=Persistence.MEMORY), ManualClock(START)) as ledger:
        world = build_world(ledger)
        note = AttributionEvidence(
            Channel.STORE_ACCOUNT, store_id=world.store_id, guide_note="Wang Fang"
        )
        sell(ledger, world, note, quantity=2)
        qr = AttributionEvidence(Channel.GUIDE_QR, guide_id=world.guide_id)
        sell(ledger, world, qr, member="M0002")
        assert isinstance(ledger.clock, ManualClock)
        settle(ledger, world, ledger.clock, "2026-11", datetime(2026, 12, 1, tzinfo=UTC))
        yield ledger


def stored_lines(ledger: Ledger) -> list[StoredEvent]:
    notifications = ledger.commissions.recorder.select_notifications(start=1, limit=10_000)
    return [n for n in notifications if resolve_topic(n.topic) is SettlementPeriod.LineAdded]


def line_added(ledger: Ledger, stored: StoredEvent) -> SettlementPeriod.LineAdded:
    event = ledger.commissions.mapper.to_domain_event(stored)
    assert isinstance(event, SettlementPeriod.LineAdded)
    return event


def without_held(stored: StoredEvent, as_json: bool) -> StoredEvent:
    """The line as stored before lines had `held`."""
    if as_json:
        state = json.loads(stored.state)
        assert state["line"]["_data_"].pop("held") is None
        return replace(stored, state=json.dumps(state).encode())
    state = msgspec.msgpack.decode(stored.state)
    assert state["line"].pop("held") is None
    return replace(stored, state=msgspec.msgpack.encode(state))


@pytest.mark.parametrize("as_json", [False, True], ids=["messagepack", "json"])
def test_a_line_stored_before_lines_could_be_held_reads_as_the_payees_own(
    store_account_month: Ledger, as_json: bool
) -> None:
    ledger = store_account_month
    own = [n for n in stored_lines(ledger) if line_added(ledger, n).line.held is None]
    assert own
    for stored in own:
        recorded = as_stored_in_json(ledger.commissions, stored) if as_json else stored
        old = line_added(ledger, without_held(recorded, as_json))
        assert (old.line, old.line.held) == (line_added(ledger, stored).line, None)


def test_the_audit_reads_a_held_line_stored_in_json_as_one_stored_in_messagepack(
    store_account_month: Ledger,
) -> None:
    commissions = store_account_month.commissions
    view = view_decoder(commissions.mapper, SettlementPeriod.LineAdded, LineAdded)

    def read(stored: StoredEvent) -> LineAdded:
        return view(cast(Stored, stored))

    held = [read(n) for n in stored_lines(store_account_month) if read(n).line.held]
    assert len(held) == 2  # held at the store, handed back
    for stored in stored_lines(store_account_month):
        assert read(as_stored_in_json(commissions, stored)) == read(stored)
