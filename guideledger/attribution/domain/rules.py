"""Who an order's sales count for, decided once when the order is placed.

Default precedence (a versioned, effective-dated policy may reorder it):
explicit guide link, QR code or forwarded live-stream link → the member's
bound guide → a guide named on a store-account order → the store only →
unattributed (the brand). The guide's store, branch, district and region are
copied into the attribution at that moment, so a later transfer changes
nothing. A guide who has left gets no new attribution: the order falls to
the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from guideledger.kernel.errors import InvalidValue
from guideledger.kernel.privacy import Sealed
from guideledger.kernel.values import require_text
from guideledger.organisation.domain.guides import GuideSnapshot
from guideledger.organisation.domain.units import StoreSnapshot


class Channel(StrEnum):
    """How the order came, as the frontend declares it."""

    GUIDE_SHARE_LINK = "guide_share_link"
    GUIDE_QR = "guide_qr"
    LIVE_STREAM_FORWARD = "live_stream_forward"
    STORE_ACCOUNT = "store_account"
    DIRECT = "direct"


@dataclass(frozen=True)
class AttributionEvidence:
    """What the frontend saw: the link, QR code or note the customer came through.

    Carried as given; the attribution policy decides what it means. The note is the
    customer's own words: an order records it sealed under the member's key (orders
    placed before notes were sealed recorded it in the clear).
    """

    channel: Channel
    guide_id: UUID | None = None
    store_id: UUID | None = None
    share_code: str | None = None
    guide_note: Sealed | str | None = None

    def __post_init__(self) -> None:
        if type(self.channel) is not Channel:  # given as text
            object.__setattr__(self, "channel", Channel(self.channel))
        if isinstance(self.guide_note, str):
            require_text("guide_note", self.guide_note, 100)
        guide_channels = {
            Channel.GUIDE_SHARE_LINK,
            Channel.GUIDE_QR,
            Channel.LIVE_STREAM_FORWARD,
        }
        if self.channel in guide_channels and self.guide_id is None:
            raise InvalidValue(f"a {self.channel} order must name the guide of the link")
        if self.channel is Channel.STORE_ACCOUNT and self.store_id is None:
            raise InvalidValue("a store-account order must name the store")


GUIDE_LINK_CHANNELS = frozenset(
    {Channel.GUIDE_SHARE_LINK, Channel.GUIDE_QR, Channel.LIVE_STREAM_FORWARD}
)


class Rule(StrEnum):
    GUIDE_LINK = "guide_link"
    BOUND_GUIDE = "bound_guide"
    STORE_ACCOUNT_GUIDE = "store_account_guide"
    STORE_ONLY = "store_only"


class BindingMode(StrEnum):
    FIRST_TOUCH = "first_touch"  # the first attributed purchase binds, protected for a window
    LAST_TOUCH = "last_touch"  # every attributed purchase binds to its guide
    AT_REGISTRATION = "at_registration"  # only registration (or support) binds


class AttributionChannel(StrEnum):
    """How the attribution was reached; the online ones count as online sales."""

    GUIDE_SHARE_LINK = "guide_share_link"
    GUIDE_QR = "guide_qr"
    LIVE_STREAM_FORWARD = "live_stream_forward"
    BOUND_GUIDE = "bound_guide"
    STORE_ACCOUNT_GUIDE = "store_account_guide"
    STORE_ONLY = "store_only"
    UNATTRIBUTED = "unattributed"

    @property
    def is_online(self) -> bool:
        return self in {
            AttributionChannel.GUIDE_SHARE_LINK,
            AttributionChannel.GUIDE_QR,
            AttributionChannel.LIVE_STREAM_FORWARD,
            AttributionChannel.BOUND_GUIDE,
        }


DEFAULT_PRECEDENCE = (Rule.GUIDE_LINK, Rule.BOUND_GUIDE, Rule.STORE_ACCOUNT_GUIDE, Rule.STORE_ONLY)


@dataclass(frozen=True)
class AttributionPolicy:
    version: int = 0
    effective_from: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    precedence: tuple[Rule, ...] = DEFAULT_PRECEDENCE
    binding_mode: BindingMode = BindingMode.FIRST_TOUCH
    protection_days: int = 90

    def __post_init__(self) -> None:
        object.__setattr__(self, "precedence", tuple(Rule(r) for r in self.precedence))
        object.__setattr__(self, "binding_mode", BindingMode(self.binding_mode))
        if len(set(self.precedence)) != len(self.precedence) or not self.precedence:
            raise InvalidValue("the precedence lists each rule at most once, and at least one")
        if not 0 <= self.protection_days <= 3650:
            raise InvalidValue("protection_days must be between 0 and 3650")

    @property
    def protection(self) -> timedelta:
        return timedelta(days=self.protection_days)


DEFAULT_ATTRIBUTION_POLICY = AttributionPolicy()


@dataclass(frozen=True)
class AttributionInputs:
    """What the application looked up for the evidence, as of the order's placing."""

    link_guide: GuideSnapshot | None = None
    bound_guide: GuideSnapshot | None = None
    noted_guide: GuideSnapshot | None = None  # the guide a store-account note names, if found
    evidence_store: StoreSnapshot | None = None


@dataclass(frozen=True)
class Attribution:
    channel: AttributionChannel
    rule: str  # the rule that decided, or "none"
    policy_version: int
    brand_id: UUID
    evidence: AttributionEvidence
    guide_id: UUID | None = None
    store_id: UUID | None = None
    branch_id: UUID | None = None
    district_id: UUID | None = None
    region_id: UUID | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if type(self.channel) is not AttributionChannel:  # given as text
            object.__setattr__(self, "channel", AttributionChannel(self.channel))

    @property
    def payees(self) -> tuple[UUID | None, UUID | None]:
        """Whom the sale counts for: the guide and the store."""
        return (self.guide_id, self.store_id)


def attribute(
    brand_id: UUID,
    evidence: AttributionEvidence,
    inputs: AttributionInputs,
    policy: AttributionPolicy = DEFAULT_ATTRIBUTION_POLICY,
) -> Attribution:
    """Applies the policy's rules in order; the first that matches decides."""
    notes: list[str] = []
    for rule in policy.precedence:
        found = _apply(rule, evidence, inputs, notes)
        if found is not None:
            channel, guide_id, store = found
            return Attribution(
                channel=channel,
                rule=str(rule),
                policy_version=policy.version,
                brand_id=brand_id,
                evidence=evidence,
                guide_id=guide_id,
                store_id=store.store_id,
                branch_id=store.branch_id,
                district_id=store.district_id,
                region_id=store.region_id,
                notes=tuple(notes),
            )
    return Attribution(
        AttributionChannel.UNATTRIBUTED,
        "none",
        policy.version,
        brand_id,
        evidence,
        notes=tuple(notes),
    )


def _apply(
    rule: Rule, evidence: AttributionEvidence, inputs: AttributionInputs, notes: list[str]
) -> tuple[AttributionChannel, UUID | None, StoreSnapshot] | None:
    if rule is Rule.GUIDE_LINK and evidence.channel in GUIDE_LINK_CHANNELS and inputs.link_guide:
        guide = inputs.link_guide
        if guide.active:
            return AttributionChannel(evidence.channel.value), guide.guide_id, guide.store
        notes.append("the link's guide has left: the sale falls to their last store")
        return AttributionChannel.STORE_ONLY, None, guide.store
    if rule is Rule.BOUND_GUIDE and inputs.bound_guide:
        if inputs.bound_guide.active:
            return (
                AttributionChannel.BOUND_GUIDE,
                inputs.bound_guide.guide_id,
                inputs.bound_guide.store,
            )
        notes.append("the member's bound guide has left")
    if rule is Rule.STORE_ACCOUNT_GUIDE and evidence.channel is Channel.STORE_ACCOUNT:
        noted = inputs.noted_guide
        if noted and noted.active:
            return AttributionChannel.STORE_ACCOUNT_GUIDE, noted.guide_id, noted.store
        if evidence.guide_note:
            notes.append("the guide named in the note was not found at the store")
    if rule is Rule.STORE_ONLY and inputs.evidence_store:
        return AttributionChannel.STORE_ONLY, None, inputs.evidence_store
    return None


def corrected(
    current: Attribution, store: StoreSnapshot, guide_id: UUID | None = None
) -> Attribution:
    """Support moves a sale to another guide (working in `store`) or to `store` alone: the
    evidence and policy version stay; a guide named on a sale that had none becomes a
    store-account sale for that guide."""
    if guide_id is None:
        channel = AttributionChannel.STORE_ONLY
    elif current.guide_id is not None:
        channel = current.channel
    else:
        channel = AttributionChannel.STORE_ACCOUNT_GUIDE
    return Attribution(
        channel=channel,
        rule="support_correction",
        policy_version=current.policy_version,
        brand_id=current.brand_id,
        evidence=current.evidence,
        guide_id=guide_id,
        store_id=store.store_id,
        branch_id=store.branch_id,
        district_id=store.district_id,
        region_id=store.region_id,
    )
