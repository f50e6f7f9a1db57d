"""就全、就近、就仓: one test per rule, plus determinism and explanations."""

import random
from uuid import UUID

import pytest

from guideledger.fulfilment.domain.routing import (
    LineDemand,
    NodeCandidate,
    Outcome,
    RoutingDecision,
    RoutingPolicy,
    route,
)
from guideledger.kernel.errors import InvalidValue
from guideledger.kernel.values import GeoPoint
from guideledger.organisation.domain.units import NodeKind

CUSTOMER = GeoPoint(31.0, 121.0)
KM_PER_DEGREE = 111.195
SKU_A, SKU_B, SKU_C = (UUID(int=n) for n in (0xA, 0xB, 0xC))
BRANCH = UUID(int=99)
LINES = [LineDemand(1, SKU_A, 2), LineDemand(2, SKU_B, 1)]


def node(
    n: int,
    km: float,
    stock: dict[UUID, int],
    kind: NodeKind = NodeKind.STORE,
    **flags: bool,
) -> NodeCandidate:
    """A node `km` north of the customer; `n` orders node ids."""
    location = GeoPoint(CUSTOMER.latitude + km / KM_PER_DEGREE, CUSTOMER.longitude)
    return NodeCandidate(UUID(int=n), kind, BRANCH, location, stock, **flags)


def every_line(units: int = 5) -> dict[UUID, int]:
    return {SKU_A: units, SKU_B: units}


def shipped_by(decision: RoutingDecision) -> list[int]:
    return [a.node_id.int for a in decision.allocations]


def outcome_of(decision: RoutingDecision, n: int) -> tuple[Outcome, str]:
    found = next(c for c in decision.candidates if c.node_id.int == n)
    return found.outcome, found.reason


def test_a_node_with_every_line_ships_whole_even_if_a_partial_node_is_nearer() -> None:
    decision = route(LINES, CUSTOMER, [node(1, 1, {SKU_A: 9}), node(2, 40, every_line())])
    assert shipped_by(decision) == [2]
    assert decision.reason.startswith("one node ships every line")
    assert outcome_of(decision, 1) == (
        Outcome.NOT_CHOSEN,
        "cannot ship every line (short on line 2)",
    )


def test_nearest_band_wins_among_complete_nodes() -> None:
    decision = route(LINES, CUSTOMER, [node(1, 35, every_line()), node(2, 15, every_line())])
    assert shipped_by(decision) == [2]
    assert outcome_of(decision, 1)[1] == "ships every line but is in a farther band (3 > 1)"


def test_prefers_warehouse_within_same_distance_band() -> None:
    store, warehouse = node(1, 2, every_line()), node(2, 8, every_line(), NodeKind.WAREHOUSE)
    decision = route(LINES, CUSTOMER, [store, warehouse])
    assert shipped_by(decision) == [2]
    assert "warehouse first" in decision.reason
    assert outcome_of(decision, 1)[1] == (
        "ships every line, but a warehouse in the same band ships first"
    )


def test_store_in_a_nearer_band_beats_a_warehouse_in_a_farther_one() -> None:
    store, warehouse = node(1, 5, every_line()), node(2, 12, every_line(), NodeKind.WAREHOUSE)
    assert shipped_by(route(LINES, CUSTOMER, [store, warehouse])) == [1]


def test_without_warehouse_preference_the_store_in_the_band_can_win() -> None:
    store, warehouse = node(1, 2, every_line()), node(2, 8, every_line(), NodeKind.WAREHOUSE)
    policy = RoutingPolicy(version=3, prefer_warehouse=False)
    decision = route(LINES, CUSTOMER, [store, warehouse], policy)
    assert shipped_by(decision) == [1]
    assert decision.policy_version == 3


def test_lowest_node_id_breaks_the_remaining_tie() -> None:
    decision = route(LINES, CUSTOMER, [node(7, 3, every_line()), node(4, 6, every_line())])
    assert shipped_by(decision) == [4]
    assert outcome_of(decision, 7)[1].endswith("the lower node id wins")


def test_band_width_comes_from_the_policy() -> None:
    nodes = [node(1, 3, every_line()), node(2, 14, every_line(), NodeKind.WAREHOUSE)]
    assert shipped_by(route(LINES, CUSTOMER, nodes)) == [1]
    assert shipped_by(route(LINES, CUSTOMER, nodes, RoutingPolicy(distance_band_km=20))) == [2]


def test_paused_capped_and_empty_nodes_are_excluded_with_the_reason() -> None:
    nodes = [
        node(1, 1, every_line(), paused=True),
        node(2, 1, every_line(), at_daily_cap=True),
        node(3, 1, {SKU_C: 9}),
        node(4, 50, every_line()),
    ]
    decision = route(LINES, CUSTOMER, nodes)
    assert shipped_by(decision) == [4]
    assert outcome_of(decision, 1) == (Outcome.EXCLUDED, "paused")
    assert outcome_of(decision, 2) == (Outcome.EXCLUDED, "daily order cap reached")
    assert outcome_of(decision, 3) == (Outcome.EXCLUDED, "holds none of the order's SKUs")


def test_splits_over_the_fewest_nodes_when_none_is_complete() -> None:
    nodes = [node(1, 1, {SKU_A: 2}), node(2, 2, {SKU_B: 1}), node(3, 3, {SKU_A: 1})]
    decision = route(LINES, CUSTOMER, nodes)
    assert shipped_by(decision) == [1, 2]
    assert decision.reason == "no node holds every line; split over 2 nodes"
    assert [(line.line_no, line.quantity) for line in decision.allocations[0].lines] == [(1, 2)]
    assert outcome_of(decision, 3)[0] is Outcome.NOT_CHOSEN


def test_split_prefers_the_set_with_least_total_distance() -> None:
    nodes = [
        node(1, 1, {SKU_A: 2}),
        node(2, 95, {SKU_B: 1}),
        node(3, 45, {SKU_A: 2}),
        node(4, 45, {SKU_B: 1}),
    ]
    assert shipped_by(route(LINES, CUSTOMER, nodes)) == [1, 4]


def test_a_line_can_be_split_across_nodes() -> None:
    lines = [LineDemand(1, SKU_A, 3)]
    decision = route(lines, CUSTOMER, [node(1, 1, {SKU_A: 2}), node(2, 2, {SKU_A: 2})])
    assert [(a.node_id.int, a.lines[0].quantity) for a in decision.allocations] == [(1, 2), (2, 1)]


def test_the_shipment_cap_bounds_the_split() -> None:
    lines = [*LINES, LineDemand(3, SKU_C, 1)]
    nodes = [node(1, 1, {SKU_A: 2}), node(2, 2, {SKU_B: 1}), node(3, 3, {SKU_C: 1})]
    assert not route(lines, CUSTOMER, nodes).routable
    assert shipped_by(route(lines, CUSTOMER, nodes, RoutingPolicy(max_shipments=3))) == [1, 2, 3]


def test_unroutable_decision_names_the_shortage() -> None:
    decision = route(LINES, CUSTOMER, [node(1, 1, {SKU_A: 1})])
    assert not decision.routable
    assert decision.reason == (
        "not enough stock on nodes that can ship: "
        "line 1 needs 2, 1 available; line 2 needs 1, 0 available"
    )


def test_unroutable_reason_mentions_nodes_that_are_paused_or_capped() -> None:
    nodes = [node(1, 1, every_line(), paused=True), node(2, 2, every_line(), at_daily_cap=True)]
    decision = route(LINES, CUSTOMER, nodes)
    assert decision.reason.endswith("(2 node(s) with stock paused or at their daily cap)")


def test_same_input_gives_the_same_decision_in_any_order() -> None:
    nodes = [node(n, km, every_line(n % 3)) for n, km in enumerate([3, 7, 12, 12, 30, 1], 1)]
    first = route(LINES, CUSTOMER, nodes)
    for seed in range(5):
        shuffled = nodes[:]
        random.Random(seed).shuffle(shuffled)
        assert route(LINES, CUSTOMER, shuffled) == first


def test_every_candidate_is_explained_once_in_rank_order() -> None:
    nodes = [node(n, n * 4, every_line(n % 3)) for n in range(1, 8)]
    decision = route(LINES, CUSTOMER, nodes)
    assert sorted(c.node_id.int for c in decision.candidates) == list(range(1, 8))
    ranks = [c.rank for c in decision.candidates if c.rank is not None]
    assert ranks == list(range(1, len(ranks) + 1))
    assert all(c.reason for c in decision.candidates)


@pytest.mark.parametrize(
    "fields",
    [
        {"distance_band_km": 0},
        {"max_shipments": 0},
        {"max_shipments": 9},
        {"split_search_limit": 1},
    ],
)
def test_policy_refuses_nonsense(fields: dict[str, int]) -> None:
    with pytest.raises(InvalidValue):
        RoutingPolicy(**fields)  # type: ignore[arg-type]


def test_distances_are_reported_from_another_point_while_routing_measures_the_exact_one() -> None:
    """An order's decision reports distances from the delivery area; the bands, ranks and
    choice are the exact point's."""
    area = CUSTOMER
    exact = GeoPoint(area.latitude - 0.004, area.longitude)  # 0.44 km further south
    nodes = [node(1, 9.8, every_line()), node(2, 9.5, every_line(), NodeKind.WAREHOUSE)]
    measured = route(LINES, exact, nodes)
    reported = route(LINES, exact, nodes, reported_from=area)
    assert [(c.node_id, c.band, c.rank, c.outcome) for c in reported.candidates] == [
        (c.node_id, c.band, c.rank, c.outcome) for c in measured.candidates
    ]
    assert shipped_by(reported) == shipped_by(measured) == [2]
    by_id = {c.node_id.int: c for c in reported.candidates}
    assert (by_id[1].distance_km, by_id[1].band) == (9.8, 1)  # 10.24 km from the exact point
    assert by_id[2].distance_km == reported.allocations[0].distance_km == 9.5
