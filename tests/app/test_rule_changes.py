"""Commission rules changed after the fact: a version may take effect in the past while
every period it reaches is open; the orders it reaches are corrected by promoting a
rebuild of the brand's commission view, never by rewriting what was booked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from guideledger.commissions.domain.rules import CommissionPolicy
from guideledger.composition import Ledger
from guideledger.kernel.periods import PeriodClosed
from guideledger.platform.clock import ManualClock
from tests.app.test_commissions_app import FINANCE
from tests.world import ADMIN, build_world, event_count

# 1 November 2026 00:00 in Shanghai, the brands' zone
NOVEMBER_1 = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
OCTOBER_15 = datetime(2026, 10, 15, tzinfo=UTC)


def test_commission_rules_may_take_effect_in_a_past_period_that_is_open(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    assert clock.now() > NOVEMBER_1
    draft = CommissionPolicy(top_guide_bonus_fen=0, effective_from=OCTOBER_15)
    assert ledger.commissions.publish_policy(ADMIN, world.brand_id, draft).version == 1
    [published] = ledger.commissions.policies(world.brand_id)
    assert published.effective_from == OCTOBER_15


def test_commission_rules_reaching_a_closed_period_are_refused_and_nothing_is_written(
    ledger: Ledger, clock: ManualClock
) -> None:
    world = build_world(ledger)
    ledger.commissions.close_period(FINANCE, world.brand_id, "2026-10")
    before = event_count(ledger)
    draft = CommissionPolicy(top_guide_bonus_fen=0, effective_from=OCTOBER_15)
    with pytest.raises(PeriodClosed) as refused:
        ledger.commissions.publish_policy(ADMIN, world.brand_id, draft)
    assert refused.value.extensions["period"] == "2026-10"
    assert "2026-10" in refused.value.detail
    assert event_count(ledger) == before
    assert ledger.commissions.policies(world.brand_id) == []

    from_november = CommissionPolicy(top_guide_bonus_fen=0, effective_from=NOVEMBER_1)
    assert ledger.commissions.publish_policy(ADMIN, world.brand_id, from_november).version == 1
