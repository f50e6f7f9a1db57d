"""The feed is configured by environment variables; without a NATS URL there is none."""

from __future__ import annotations

import pytest

from guideledger.bootstrap import bootstrap
from guideledger.feed.relay import OrderFeed, StatementFeed
from guideledger.platform.settings import Persistence, Settings

FEEDS = {OrderFeed.name, StatementFeed.name}


def test_without_a_nats_url_there_is_no_relay() -> None:
    with bootstrap(Settings(persistence=Persistence.MEMORY, nats_url=None)) as ledger:
        assert ledger.feed is None
        assert not FEEDS & set(ledger.projections.projections)


def test_with_a_nats_url_the_worker_runs_the_relay_and_nothing_connects_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GUIDELEDGER_NATS_URL", "nats://127.0.0.1:1")  # nothing listens
    monkeypatch.setenv("GUIDELEDGER_NATS_STREAM", "ORDERS_FEED")
    monkeypatch.setenv("GUIDELEDGER_NATS_SUBJECT_PREFIX", "acme.ledger")
    with bootstrap(Settings(persistence=Persistence.MEMORY)) as ledger:
        assert ledger.feed is not None
        assert ledger.feed.config.stream == "ORDERS_FEED"
        assert ledger.feed.config.subject_prefix == "acme.ledger"
        assert set(ledger.projections.projections) >= FEEDS


@pytest.mark.parametrize(
    ("variable", "value"),
    [("GUIDELEDGER_NATS_STREAM", "a.b"), ("GUIDELEDGER_NATS_SUBJECT_PREFIX", "a.>")],
)
def test_a_stream_or_subject_prefix_nats_would_misread_is_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=variable.removeprefix("GUIDELEDGER_").lower()):
        Settings(persistence=Persistence.MEMORY)
