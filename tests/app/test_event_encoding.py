"""Value objects inside events survive the round trip through the stored JSON."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import JSONTranscoder

from domain.commission import Entry, Payee, PayeeLevel, Posting, PostingKind
from infrastructure.bootstrap import bootstrap
from infrastructure.clock import ManualClock
from infrastructure.settings import Persistence, Settings

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
    posting = Posting(
        "accrual:1",
        PostingKind.MATURITY,
        uuid4(),
        (Entry("guide:1:pending", 500), Entry("guide:1:settleable", -500)),
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


def test_an_id_named_by_many_events_decodes_to_one_shared_value(
    transcoder: JSONTranscoder,
) -> None:
    guide_id = uuid4()
    first = round_trip(transcoder, Payee(PayeeLevel.GUIDE, guide_id))
    second = round_trip(transcoder, {"payee_id": guide_id})

    assert first.payee_id == guide_id
    assert second["payee_id"] is first.payee_id
