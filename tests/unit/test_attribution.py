"""One test per precedence rule and per binding mode."""

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from guideledger.attribution.domain.binding import MemberBinding
from guideledger.attribution.domain.rules import (
    AttributionChannel,
    AttributionEvidence,
    AttributionInputs,
    AttributionPolicy,
    BindingMode,
    Channel,
    Rule,
    attribute,
    corrected,
)
from guideledger.kernel.errors import InvalidValue, RuleViolated
from guideledger.organisation.domain.guides import GuideSnapshot
from guideledger.organisation.domain.units import StoreSnapshot

BRAND = uuid4()
NOW = datetime(2026, 11, 1, tzinfo=UTC)
EAST = StoreSnapshot(uuid4(), uuid4(), uuid4(), uuid4())
NORTH = StoreSnapshot(uuid4(), uuid4(), uuid4(), uuid4())
LINK_GUIDE = GuideSnapshot(uuid4(), True, EAST)
BOUND_GUIDE = GuideSnapshot(uuid4(), True, NORTH)
NOTED_GUIDE = GuideSnapshot(uuid4(), True, NORTH)


def link(channel: Channel = Channel.GUIDE_SHARE_LINK) -> AttributionEvidence:
    return AttributionEvidence(channel, guide_id=LINK_GUIDE.guide_id, share_code="SC1")


STORE_ACCOUNT = AttributionEvidence(Channel.STORE_ACCOUNT, store_id=NORTH.store_id, guide_note="Li")


@pytest.mark.parametrize(
    "channel", [Channel.GUIDE_SHARE_LINK, Channel.GUIDE_QR, Channel.LIVE_STREAM_FORWARD]
)
def test_a_guide_link_wins_and_copies_the_guides_organisation(channel: Channel) -> None:
    inputs = AttributionInputs(link_guide=LINK_GUIDE, bound_guide=BOUND_GUIDE)
    result = attribute(BRAND, link(channel), inputs)
    assert result.channel.value == channel.value
    assert result.rule == "guide_link"
    assert (result.guide_id, result.store_id, result.branch_id) == (
        LINK_GUIDE.guide_id,
        EAST.store_id,
        EAST.branch_id,
    )
    assert (result.district_id, result.region_id) == (EAST.district_id, EAST.region_id)


def test_a_correction_to_another_guide_keeps_the_channel_and_takes_their_store() -> None:
    sale = attribute(BRAND, link(), AttributionInputs(link_guide=LINK_GUIDE))
    moved = corrected(sale, NORTH, BOUND_GUIDE.guide_id)
    assert (moved.channel, moved.rule) == (sale.channel, "support_correction")
    assert (moved.guide_id, moved.store_id, moved.branch_id) == (
        BOUND_GUIDE.guide_id,
        NORTH.store_id,
        NORTH.branch_id,
    )
    assert (moved.evidence, moved.policy_version) == (sale.evidence, sale.policy_version)


def test_a_correction_names_a_guide_on_a_store_sale_or_leaves_the_sale_to_a_store() -> None:
    store_sale = attribute(BRAND, STORE_ACCOUNT, AttributionInputs(evidence_store=NORTH))
    to_guide = corrected(store_sale, NORTH, NOTED_GUIDE.guide_id)
    assert to_guide.channel is AttributionChannel.STORE_ACCOUNT_GUIDE
    guide_sale = attribute(BRAND, link(), AttributionInputs(link_guide=LINK_GUIDE))
    to_store = corrected(guide_sale, EAST)
    assert (to_store.channel, to_store.guide_id) == (AttributionChannel.STORE_ONLY, None)


def test_a_guide_who_left_gets_nothing_and_the_sale_falls_to_their_store() -> None:
    left = GuideSnapshot(LINK_GUIDE.guide_id, False, EAST)
    result = attribute(BRAND, link(), AttributionInputs(link_guide=left, bound_guide=BOUND_GUIDE))
    assert (result.channel, result.guide_id, result.store_id) == (
        AttributionChannel.STORE_ONLY,
        None,
        EAST.store_id,
    )
    assert result.notes


def test_the_bound_guide_counts_when_there_is_no_link() -> None:
    evidence = AttributionEvidence(Channel.DIRECT)
    result = attribute(BRAND, evidence, AttributionInputs(bound_guide=BOUND_GUIDE))
    assert (result.channel, result.guide_id, result.store_id) == (
        AttributionChannel.BOUND_GUIDE,
        BOUND_GUIDE.guide_id,
        NORTH.store_id,
    )


def test_a_guide_named_on_a_store_account_order_counts_next() -> None:
    inputs = AttributionInputs(noted_guide=NOTED_GUIDE, evidence_store=NORTH)
    result = attribute(BRAND, STORE_ACCOUNT, inputs)
    assert (result.channel, result.guide_id) == (
        AttributionChannel.STORE_ACCOUNT_GUIDE,
        NOTED_GUIDE.guide_id,
    )


def test_a_store_account_order_without_a_known_guide_counts_for_the_store() -> None:
    result = attribute(BRAND, STORE_ACCOUNT, AttributionInputs(evidence_store=NORTH))
    assert (result.channel, result.guide_id, result.store_id) == (
        AttributionChannel.STORE_ONLY,
        None,
        NORTH.store_id,
    )
    assert result.notes == ("the guide named in the note was not found at the store",)


def test_nothing_to_go_on_leaves_the_sale_to_the_brand() -> None:
    result = attribute(BRAND, AttributionEvidence(Channel.DIRECT), AttributionInputs())
    assert (result.channel, result.store_id, result.rule) == (
        AttributionChannel.UNATTRIBUTED,
        None,
        "none",
    )


def test_a_policy_can_put_the_bound_guide_first_and_is_recorded() -> None:
    policy = AttributionPolicy(version=4, precedence=(Rule.BOUND_GUIDE, Rule.GUIDE_LINK))
    inputs = AttributionInputs(link_guide=LINK_GUIDE, bound_guide=BOUND_GUIDE)
    result = attribute(BRAND, link(), inputs, policy)
    assert (result.guide_id, result.policy_version) == (BOUND_GUIDE.guide_id, 4)


def test_policy_refuses_repeated_rules() -> None:
    with pytest.raises(InvalidValue):
        AttributionPolicy(precedence=(Rule.GUIDE_LINK, Rule.GUIDE_LINK))


# --- binding modes ---------------------------------------------------------------


def binding() -> MemberBinding:
    return MemberBinding(uuid4(), BRAND)


def purchase(b: MemberBinding, guide: UUID, mode: BindingMode, at: datetime) -> None:
    b.after_attributed_purchase(guide, mode, timedelta(days=90), uuid4(), at, "t")


def test_first_touch_binds_and_protects_against_other_guides() -> None:
    b, first, second = binding(), uuid4(), uuid4()
    purchase(b, first, BindingMode.FIRST_TOUCH, NOW)
    purchase(b, second, BindingMode.FIRST_TOUCH, NOW + timedelta(days=89))
    assert b.guide_id == first
    purchase(b, second, BindingMode.FIRST_TOUCH, NOW + timedelta(days=90))
    assert b.guide_id == second


def test_last_touch_follows_every_attributed_purchase() -> None:
    b, first, second = binding(), uuid4(), uuid4()
    purchase(b, first, BindingMode.LAST_TOUCH, NOW)
    purchase(b, second, BindingMode.LAST_TOUCH, NOW + timedelta(days=1))
    assert b.guide_id == second


def test_at_registration_mode_ignores_purchases() -> None:
    b, registrar, seller = binding(), uuid4(), uuid4()
    b.bind(registrar, "registered in store", timedelta(days=90), NOW, "store")
    purchase(b, seller, BindingMode.AT_REGISTRATION, NOW + timedelta(days=200))
    assert b.guide_id == registrar


def test_support_rebinds_inside_the_window_and_a_release_frees_the_member() -> None:
    b, first, second = binding(), uuid4(), uuid4()
    purchase(b, first, BindingMode.FIRST_TOUCH, NOW)
    b.bind(second, "customer asked", timedelta(days=90), NOW + timedelta(days=1), "support")
    assert b.guide_id == second
    with pytest.raises(RuleViolated):
        b.bind(second, "again", timedelta(days=90), NOW, "support")
    b.release("guide left", NOW, "system")
    assert b.guide_id is None
    with pytest.raises(RuleViolated):
        b.release("again", NOW, "system")
