"""Order routing by 就全、就近、就仓: complete first, then nearest, then warehouse.

`route` is a pure function of the order's lines, the delivery location, the
candidate nodes with their available stock, and the routing policy. It keeps
every candidate's outcome, so each decision explains itself:

1. Exclude nodes that are paused, at their daily order cap, or hold none of
   the order's SKUs.
2. Rank the rest by distance band (great-circle distance cut into bands of
   `distance_band_km`, since exact ties never happen), then warehouse before
   store within a band, then lowest node id, so the same input always gives
   the same decision.
3. Completeness: the best-ranked node that can ship every line ships it whole.
4. Otherwise split over the fewest nodes (at most `max_shipments`), choosing
   among the `split_search_limit` best-ranked nodes the set with the smallest
   sum of bands, then the most warehouses, then the least total distance, then
   the best ranks. Each line takes units from the set's nodes in rank order.
5. If no such set exists the order is unroutable, with the reason.

Routing measures from the exact destination. The distances a decision reports can be
measured from another point, `reported_from`: an order's decision is recorded for good,
and reports them from the delivery area (about a kilometre), since exact distances to
several known nodes would give the delivery point away.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from itertools import combinations
from uuid import UUID

from guideledger.kernel.errors import InvalidValue
from guideledger.kernel.values import GeoPoint
from guideledger.organisation.domain.units import NodeKind


@dataclass(frozen=True)
class RoutingPolicy:
    """Versioned, effective-dated routing parameters; version 0 is the built-in default."""

    version: int = 0
    effective_from: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    distance_band_km: int = 10
    max_shipments: int = 2
    split_search_limit: int = 20
    prefer_warehouse: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.distance_band_km <= 1000:
            raise InvalidValue("distance_band_km must be between 1 and 1000")
        if not 1 <= self.max_shipments <= 5:
            raise InvalidValue("max_shipments must be between 1 and 5")
        if not 2 <= self.split_search_limit <= 40:
            raise InvalidValue("split_search_limit must be between 2 and 40")


DEFAULT_ROUTING_POLICY = RoutingPolicy()


@dataclass(frozen=True)
class LineDemand:
    line_no: int
    sku_id: UUID
    quantity: int


@dataclass(frozen=True)
class NodeCandidate:
    node_id: UUID
    kind: NodeKind
    branch_id: UUID
    location: GeoPoint
    available: Mapping[UUID, int]  # SKU id -> units available now
    paused: bool = False
    at_daily_cap: bool = False
    daily_order_cap: int | None = None


class Outcome(StrEnum):
    CHOSEN = "chosen"
    NOT_CHOSEN = "not_chosen"
    EXCLUDED = "excluded"


@dataclass(frozen=True)
class CandidateOutcome:
    node_id: UUID
    kind: str
    distance_km: float
    band: int
    outcome: Outcome
    reason: str
    rank: int | None = None  # 1 is best; None when excluded

    def __post_init__(self) -> None:
        if type(self.outcome) is not Outcome:  # given as text
            object.__setattr__(self, "outcome", Outcome(self.outcome))


@dataclass(frozen=True)
class AllocatedLine:
    line_no: int
    sku_id: UUID
    quantity: int


@dataclass(frozen=True)
class Allocation:
    """What one node ships."""

    node_id: UUID
    kind: str
    branch_id: UUID
    distance_km: float
    band: int
    lines: tuple[AllocatedLine, ...]

    def quantity(self, line_no: int) -> int:
        return sum(line.quantity for line in self.lines if line.line_no == line_no)


@dataclass(frozen=True)
class RoutingDecision:
    policy_version: int
    allocations: tuple[Allocation, ...]
    candidates: tuple[CandidateOutcome, ...]
    reason: str

    @property
    def routable(self) -> bool:
        return bool(self.allocations)

    def allocation_at(self, node_id: UUID) -> Allocation | None:
        return next((a for a in self.allocations if a.node_id == node_id), None)


NO_SKUS = "holds none of the order's SKUs"


@dataclass(frozen=True)
class _Ranked:
    candidate: NodeCandidate
    distance_km: float
    band: int
    reported_km: float
    rank: int = 0

    @property
    def is_warehouse(self) -> bool:
        return self.candidate.kind is NodeKind.WAREHOUSE

    def has(self, line: LineDemand) -> int:
        return self.candidate.available.get(line.sku_id, 0)


def route(
    lines: Sequence[LineDemand],
    destination: GeoPoint,
    candidates: Sequence[NodeCandidate],
    policy: RoutingPolicy = DEFAULT_ROUTING_POLICY,
    reported_from: GeoPoint | None = None,
) -> RoutingDecision:
    outcomes: dict[UUID, CandidateOutcome] = {}
    eligible: list[_Ranked] = []
    for candidate in sorted(candidates, key=lambda c: str(c.node_id)):
        distance = candidate.location.distance_km(destination)
        band = int(distance // policy.distance_band_km)
        reported = candidate.location.distance_km(reported_from) if reported_from else distance
        entry = _Ranked(candidate, distance, band, reported)
        exclusion = _exclusion(entry, lines)
        if exclusion:
            outcomes[candidate.node_id] = _outcome(entry, Outcome.EXCLUDED, exclusion)
        else:
            eligible.append(entry)
    eligible.sort(key=lambda e: _rank_key(e, policy))
    eligible = [dataclasses.replace(e, rank=rank) for rank, e in enumerate(eligible, 1)]
    complete = [e for e in eligible if all(e.has(line) >= line.quantity for line in lines)]
    if complete:
        chosen, reason = [complete[0]], _complete_reason(complete[0], policy)
        for entry in eligible:
            if entry is complete[0]:
                continue
            outcomes[entry.candidate.node_id] = _outcome(
                entry, Outcome.NOT_CHOSEN, _lost_to(entry, complete[0], lines, policy)
            )
    else:
        chosen, reason = _best_split(eligible, lines, policy), ""
        for entry in eligible:
            if entry not in chosen:
                outcomes[entry.candidate.node_id] = _outcome(
                    entry, Outcome.NOT_CHOSEN, _split_loser_reason(entry, chosen, policy)
                )
        blocked = sum(
            o.outcome is Outcome.EXCLUDED and o.reason != NO_SKUS for o in outcomes.values()
        )
        reason = (
            f"no node holds every line; split over {len(chosen)} nodes"
            if chosen
            else _unroutable_reason(eligible, lines, policy, blocked)
        )
    allocations = _allocate(chosen, lines)
    for entry, allocation in zip(chosen, allocations, strict=True):
        shipped = ", ".join(str(line.line_no) for line in allocation.lines)
        outcomes[entry.candidate.node_id] = _outcome(
            entry, Outcome.CHOSEN, f"ships lines {shipped}"
        )
    ordered = sorted(outcomes.values(), key=lambda o: (o.rank is None, o.rank or 0, str(o.node_id)))
    return RoutingDecision(policy.version, tuple(allocations), tuple(ordered), reason)


def _exclusion(entry: _Ranked, lines: Sequence[LineDemand]) -> str:
    if entry.candidate.paused:
        return "paused"
    if entry.candidate.at_daily_cap:
        return "daily order cap reached"
    if not any(entry.has(line) > 0 for line in lines):
        return NO_SKUS
    return ""


def _rank_key(entry: _Ranked, policy: RoutingPolicy) -> tuple[int, int, str]:
    store_last = 0 if (policy.prefer_warehouse and entry.is_warehouse) else 1
    return (entry.band, store_last, str(entry.candidate.node_id))


def _outcome(entry: _Ranked, outcome: Outcome, reason: str) -> CandidateOutcome:
    return CandidateOutcome(
        node_id=entry.candidate.node_id,
        kind=str(entry.candidate.kind),
        distance_km=round(entry.reported_km, 3),
        band=entry.band,
        outcome=outcome,
        reason=reason,
        rank=entry.rank or None,
    )


def _complete_reason(best: _Ranked, policy: RoutingPolicy) -> str:
    preference = ", warehouse first" if policy.prefer_warehouse and best.is_warehouse else ""
    return f"one node ships every line: nearest band {best.band}{preference}"


def _lost_to(
    entry: _Ranked, winner: _Ranked, lines: Sequence[LineDemand], policy: RoutingPolicy
) -> str:
    short = [str(line.line_no) for line in lines if entry.has(line) < line.quantity]
    if short:
        return f"cannot ship every line (short on line {', '.join(short)})"
    if entry.band > winner.band:
        return f"ships every line but is in a farther band ({entry.band} > {winner.band})"
    if policy.prefer_warehouse and winner.is_warehouse and not entry.is_warehouse:
        return "ships every line, but a warehouse in the same band ships first"
    return "ships every line; same band and kind, the lower node id wins"


def _best_split(
    eligible: list[_Ranked], lines: Sequence[LineDemand], policy: RoutingPolicy
) -> list[_Ranked]:
    pool = eligible[: policy.split_search_limit]
    for size in range(2, policy.max_shipments + 1):
        covering = [
            combo
            for combo in combinations(pool, size)
            if all(sum(e.has(line) for e in combo) >= line.quantity for line in lines)
        ]
        if covering:
            best = min(covering, key=_split_key)
            return sorted(best, key=lambda e: e.rank)
    return []


def _split_key(combo: tuple[_Ranked, ...]) -> tuple[int, int, float, tuple[int, ...]]:
    return (
        sum(e.band for e in combo),
        sum(not e.is_warehouse for e in combo),
        sum(e.distance_km for e in combo),
        tuple(sorted(e.rank for e in combo)),
    )


def _split_loser_reason(entry: _Ranked, chosen: list[_Ranked], policy: RoutingPolicy) -> str:
    if entry.rank > policy.split_search_limit:
        return f"beyond the {policy.split_search_limit} best-ranked nodes considered for a split"
    if chosen:
        return f"not in the best split over {len(chosen)} nodes"
    return "cannot ship every line, and no split within the shipment cap covers the order"


def _unroutable_reason(
    eligible: list[_Ranked], lines: Sequence[LineDemand], policy: RoutingPolicy, blocked: int
) -> str:
    shortages = []
    for line in lines:
        total = sum(e.has(line) for e in eligible)
        if total < line.quantity:
            shortages.append(f"line {line.line_no} needs {line.quantity}, {total} available")
    if shortages:
        reason = "not enough stock on nodes that can ship: " + "; ".join(shortages)
    else:
        reason = f"no set of up to {policy.max_shipments} nodes holds stock for every line"
    if blocked:
        reason += f" ({blocked} node(s) with stock paused or at their daily cap)"
    return reason


def _allocate(chosen: list[_Ranked], lines: Sequence[LineDemand]) -> list[Allocation]:
    """Each line takes units from the chosen nodes in rank order."""
    taken: dict[UUID, list[AllocatedLine]] = {e.candidate.node_id: [] for e in chosen}
    for line in lines:
        needed = line.quantity
        for entry in chosen:
            units = min(needed, entry.has(line))
            if units:
                taken[entry.candidate.node_id].append(
                    AllocatedLine(line.line_no, line.sku_id, units)
                )
                needed -= units
            if not needed:
                break
    return [
        Allocation(
            node_id=e.candidate.node_id,
            kind=str(e.candidate.kind),
            branch_id=e.candidate.branch_id,
            distance_km=round(e.reported_km, 3),
            band=e.band,
            lines=tuple(taken[e.candidate.node_id]),
        )
        for e in chosen
    ]
