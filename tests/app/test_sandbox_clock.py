"""The sandbox clock on each backend: one instant for every process on a store, moved
forward only, even by two movers at once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from guideledger.bootstrap import bootstrap
from guideledger.composition import read_model_store
from guideledger.platform.clock import SystemClock
from guideledger.platform.sandbox_clock import ClockMovedBack, SandboxClock
from guideledger.platform.settings import ClockMode, Persistence, Settings
from guideledger.readmodels.model import RowChange
from guideledger.readmodels.store import MemoryReadModelStore, ReadModelStore
from tests.conftest import START, make_settings

LATER = START + timedelta(days=3)


@pytest.fixture
def settings(backend: Persistence, request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    return make_settings(backend, request, tmp_path)


@pytest.fixture
def store(settings: Settings) -> Iterator[ReadModelStore]:
    store = read_model_store(settings)
    yield store
    store.close()


def test_the_first_clock_on_a_store_sets_its_start_and_the_others_read_it(
    store: ReadModelStore, settings: Settings
) -> None:
    memory = settings.resolved_persistence is Persistence.MEMORY  # nothing outlives a process
    other_process = store if memory else read_model_store(settings)
    first, second = SandboxClock(store, START), SandboxClock(other_process, LATER)
    assert (first.now(), second.now()) == (START, START)
    assert second.move_to(LATER) == LATER
    assert first.now() == LATER
    assert first.now().tzinfo is UTC
    if not memory:
        other_process.close()


def test_the_clock_moves_only_forward(store: ReadModelStore) -> None:
    clock = SandboxClock(store, START)
    clock.move_to(LATER)
    with pytest.raises(ClockMovedBack) as refused:
        clock.move_to(LATER - timedelta(microseconds=1))
    assert refused.value.extensions["now"] == LATER.isoformat()
    assert clock.now() == LATER
    assert clock.move_to(LATER) == LATER


class RacedStore(MemoryReadModelStore):
    """A store where another mover moves the clock to `racer` just before the first move."""

    def __init__(self, racer: datetime) -> None:
        super().__init__()
        self.racer: datetime | None = racer

    def apply(self, name: str, expected: int, new: int, changes: Sequence[RowChange]) -> bool:
        if self.racer is not None:
            racer, self.racer = self.racer, None
            SandboxClock(self, START).move_to(racer)
        return super().apply(name, expected, new, changes)


def test_of_two_movers_at_once_the_later_instant_stands() -> None:
    behind = RacedStore(racer=LATER)
    with pytest.raises(ClockMovedBack):
        SandboxClock(behind, START).move_to(START + timedelta(days=1))
    assert SandboxClock(behind, START).now() == LATER

    ahead = RacedStore(racer=START + timedelta(days=1))
    assert SandboxClock(ahead, START).move_to(LATER) == LATER
    assert SandboxClock(ahead, START).now() == LATER


def test_a_ledger_on_the_manual_clock_acts_as_of_the_stored_instant(
    settings: Settings,
) -> None:
    with bootstrap(settings) as ledger:
        assert isinstance(ledger.clock, SystemClock)
    manual = settings.model_copy(update={"clock": ClockMode.MANUAL, "clock_start": START})
    with bootstrap(manual) as ledger:
        assert isinstance(ledger.clock, SandboxClock)
        assert ledger.orders.clock.now() == ledger.commissions.clock.now() == START
        ledger.clock.move_to(LATER)
        assert ledger.orders.as_of(None) == LATER
        assert ledger.organisation.clock.now() == LATER
