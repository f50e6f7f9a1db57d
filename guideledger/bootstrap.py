"""The composition root: the settings, the clock and how a big audit is split, then a
ledger composed from them."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from guideledger.audit_worker import replay_parts
from guideledger.composition import Ledger, compose, read_model_store
from guideledger.eventstore.application import Clock
from guideledger.platform.clock import SystemClock
from guideledger.platform.persistence import setup_turn
from guideledger.platform.sandbox_clock import SandboxClock
from guideledger.platform.settings import ClockMode, Settings
from guideledger.readmodels.store import ReadModelStore


def bootstrap(settings: Settings | None = None, clock: Clock | None = None) -> Ledger:
    """A ledger from the settings, on `clock` if given (tests), else on the clock the
    settings name."""
    settings = settings or Settings()
    with setup_turn(settings):
        store = read_model_store(settings)
        clock = clock or settings_clock(settings, store)
        return compose(settings, clock, partial(replay_parts, settings), store)


def settings_clock(settings: Settings, store: ReadModelStore) -> Clock:
    """The wall clock, or with `GUIDELEDGER_CLOCK=manual` the sandbox clock `store` keeps."""
    if settings.clock is ClockMode.MANUAL:
        return SandboxClock(store, settings.clock_start or datetime.now(UTC))
    return SystemClock()
