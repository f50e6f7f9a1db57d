"""Value objects inside events survive the round trip through the stored JSON."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import JSONTranscoder

from guideledger.bootstrap import bootstrap
from guideledger.commissions.application.app import CommissionApplication
from guideledger.commissions.domain.rules import (
    Account,
    Bucket,
    Entry,
    Payee,
    PayeeLevel,
    Posting,
    PostingKind,
)
from guideledger.engagement.application.app import EngagementApplication
from guideledger.orders.application.app import OrderApplication
from guideledger.organisation.application.app import OrganisationApplication
from guideledger.platform.clock import ManualClock
from guideledger.platform.settings import Persistence, Settings

NOW = datetime(2026, 11, 23, 8, tzinfo=UTC)


@pytest.fixture
def transcoder() -> Iterator[JSONTranscoder]:
    ledger = bootstrap(Settings(persistence=Persistence.MEMORY), ManualClock(NOW))
    transcoder = ledger.commissions.mapper.transcoder
    assert isinstance(transcoder, JSONTranscoder)
    yield transcoder
    ledger.close()


def round_trip(transcoder: JSONTranscoder, value: Any) -> Any:
    return transcoder.decode(transcoder.encode(value))


def test_a_posting_comes_back_equal_with_its_sequences_as_tuples(
    transcoder: JSONTranscoder,
) -> None:
    guide = Payee(PayeeLevel.GUIDE, uuid4())
    posting = Posting(
        "accrual:1",
        PostingKind.MATURITY,
        uuid4(),
        (Entry(guide.account(Bucket.PENDING), 500), Entry(guide.account(Bucket.SETTLEABLE), -500)),
        "2026-11",
        NOW,
        order_id=uuid4(),
        source_events=("order:3", "accrual:2"),
    )

    again = round_trip(transcoder, posting)

    assert again == posting
    assert isinstance(again.entries, tuple)
    assert isinstance(again.source_events, tuple)
    assert again.kind is PostingKind.MATURITY
    assert [type(entry.account) for entry in again.entries] == [Account, Account]
    stored = transcoder.encode(posting)
    assert f'"account":"guide:{guide.payee_id}:pending"'.encode() in stored.replace(b" ", b"")


def test_an_id_named_by_many_events_decodes_to_one_shared_value(
    transcoder: JSONTranscoder,
) -> None:
    guide_id = uuid4()
    first = round_trip(transcoder, Payee(PayeeLevel.GUIDE, guide_id))
    second = round_trip(transcoder, {"payee_id": guide_id})

    assert first.payee_id == guide_id
    assert second["payee_id"] is first.payee_id


def test_every_sequence_inside_an_event_is_declared_a_tuple() -> None:
    """Decoding turns JSON lists back into tuples only for fields annotated `tuple[...]`."""
    applications = (
        OrganisationApplication,
        OrderApplication,
        EngagementApplication,
        CommissionApplication,
    )
    value_types = {value_type for app in applications for value_type in app.value_types}
    for value_type in value_types:
        for field in dataclasses.fields(value_type):
            annotation = str(field.type)
            if any(word in annotation for word in ("list", "Sequence", "Iterable", "set[")):
                pytest.fail(f"{value_type.__name__}.{field.name} is {annotation}: use a tuple")
