"""The composition root: the settings, the clock and how a big audit is split, then a
ledger composed from them."""

from __future__ import annotations

from functools import partial

from guideledger.audit_worker import replay_parts
from guideledger.composition import Ledger, compose
from guideledger.eventstore.application import Clock
from guideledger.platform.clock import SystemClock
from guideledger.platform.persistence import setup_turn
from guideledger.platform.settings import Settings


def bootstrap(settings: Settings | None = None, clock: Clock | None = None) -> Ledger:
    settings = settings or Settings()
    with setup_turn(settings):
        return compose(settings, clock or SystemClock(), partial(replay_parts, settings))
