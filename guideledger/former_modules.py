"""Where the stored classes lived before each bounded context had a package of its own,
and before they moved inside their context's package.

Events recorded before the move name these modules in their topics and in the names of
the value objects inside them; registering the classes under their former modules keeps
every such event readable and found by the projections (`eventstore.topics`).
"""

from __future__ import annotations

from guideledger.attribution.domain.binding import MemberBinding
from guideledger.attribution.domain.rules import (
    Attribution,
    AttributionEvidence,
    AttributionPolicy,
)
from guideledger.commissions.domain.ledger import CommissionAccrual, PayeeShare, StatementLine
from guideledger.commissions.domain.rules import CommissionPolicy, Entry, Payee, Posting, RateRule
from guideledger.commissions.domain.settlement import BrandPeriodClose, SettlementPeriod
from guideledger.engagement.domain import Share
from guideledger.eventstore.commands import IdempotencyRecord
from guideledger.eventstore.topics import register_moved
from guideledger.fulfilment.domain.daily_load import NodeDailyLoad
from guideledger.fulfilment.domain.routing import (
    AllocatedLine,
    Allocation,
    CandidateOutcome,
    RoutingDecision,
    RoutingPolicy,
)
from guideledger.fulfilment.domain.stock import Stock
from guideledger.kernel.policies import PolicyBook
from guideledger.kernel.privacy import Sealed
from guideledger.kernel.values import GeoPoint
from guideledger.orders.domain.lines import DeliveryAddress, OrderLine
from guideledger.orders.domain.order import Order
from guideledger.organisation.domain.brand import Brand
from guideledger.organisation.domain.catalogue import Sku
from guideledger.organisation.domain.guides import Guide, GuideSnapshot
from guideledger.organisation.domain.members import Member
from guideledger.organisation.domain.units import Branch, District, Node, Region, StoreSnapshot

FORMER_MODULES: dict[str, tuple[type, ...]] = {
    "application.framework": (IdempotencyRecord,),
    "domain.values": (GeoPoint,),
    "domain.privacy": (Sealed,),
    "domain.policies": (PolicyBook,),
    "domain.organisation": (Brand, Region, District, Branch, Node, Guide),
    "domain.catalogue": (Sku,),
    "domain.members": (Member,),
    "domain.orders": (Order, OrderLine, DeliveryAddress),
    "domain.stock": (Stock,),
    "domain.fulfilment": (NodeDailyLoad,),
    "domain.routing": (RoutingPolicy, RoutingDecision, Allocation, AllocatedLine, CandidateOutcome),
    "domain.attribution": (
        Attribution,
        AttributionEvidence,
        AttributionPolicy,
        StoreSnapshot,
        GuideSnapshot,
    ),
    "domain.binding": (MemberBinding,),
    "domain.engagement": (Share,),
    "domain.commission": (Payee, RateRule, CommissionPolicy, Posting, Entry),
    "domain.ledger": (
        CommissionAccrual,
        SettlementPeriod,
        BrandPeriodClose,
        PayeeShare,
        StatementLine,
    ),
}


def register_former_modules() -> None:
    for former_module, classes in FORMER_MODULES.items():
        register_moved(former_module, *classes)
