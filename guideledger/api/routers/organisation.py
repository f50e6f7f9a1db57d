"""Brands and their structure: regions, districts, branches, nodes and guides."""

from __future__ import annotations

from datetime import time
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from guideledger.api.auth import Caller, Forbidden
from guideledger.api.dependencies import CommandDep, OrganisationDep, OwnersDep
from guideledger.api.placement import CellsDep
from guideledger.api.problems import PROBLEM_RESPONSES
from guideledger.api.schemas import (
    Accepted,
    Code,
    ExpectedVersion,
    FromAttributes,
    Location,
    Name,
    Reason,
    StrictModel,
    VersionedChange,
)
from guideledger.api.tenancy import allow, allow_platform, anyone, tenant
from guideledger.cells.moving import move_group
from guideledger.kernel.periods import SettlementCadence
from guideledger.kernel.values import natural_id
from guideledger.organisation.domain.brand import Brand
from guideledger.organisation.domain.group import Group
from guideledger.organisation.domain.guides import Guide, GuideStatus
from guideledger.organisation.domain.units import (
    Branch,
    District,
    Node,
    NodeKind,
    OpeningHours,
    Region,
    StoreOwnership,
)

router = APIRouter(tags=["organisation"], responses=PROBLEM_RESPONSES)


# --- brands ------------------------------------------------------------------------


class RegisterBrand(StrictModel):
    code: Code
    name: Name
    time_zone: str = Field(min_length=1, max_length=64, examples=["Asia/Shanghai"])
    settlement_cadence: SettlementCadence


class ChangeSettlementCadence(VersionedChange):
    settlement_cadence: SettlementCadence


class BrandView(FromAttributes):
    id: UUID
    version: int
    code: str
    name: str
    time_zone: str
    settlement_cadence: SettlementCadence


class RegisterGroup(StrictModel):
    code: Code
    name: Name
    cell_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The cell (PostgreSQL server) to hold the group's store; by default the "
        "one holding the fewest groups",
    )


class GroupView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    version: int
    code: str
    name: str


@router.post(
    "/groups",
    operation_id="registerGroup",
    dependencies=[Depends(allow_platform())],
    status_code=status.HTTP_201_CREATED,
)
def register_group(body: RegisterGroup, cells: CellsDep, command: CommandDep) -> Accepted:
    """A new tenant (集团), by the platform's admins; its own admins then register brands."""
    ledger = cells.place(Group.create_id(body.code), body.cell_id)
    return Accepted.of(ledger.organisation.register_group(command, body.code, body.name))


@router.get("/groups/{group_id}", operation_id="getGroup", dependencies=[Depends(allow_platform())])
def get_group(group_id: UUID, organisation: OrganisationDep) -> GroupView:
    return GroupView.model_validate(organisation.load(Group, group_id))


class MoveGroup(StrictModel):
    to_cell_id: str = Field(min_length=1, max_length=64, description="The cell to move it to")


class GroupMoved(BaseModel):
    group_id: UUID
    cell_id: str
    former_cell_id: str = Field(description="Where the store it left stays until dropped")
    store_schema: str = Field(description="The group's store: its schema on either cell")
    rows: dict[str, int] = Field(description="Each table's rows, alike on both cells")
    digest: str = Field(description="Of every row on both cells, the events in log order")
    paused_seconds: float = Field(description="How long the group's writes waited")


@router.post(
    "/groups/{group_id}/moves",
    operation_id="moveGroup",
    dependencies=[Depends(allow_platform())],
)
def move_group_to_cell(group_id: UUID, body: MoveGroup, cells: CellsDep) -> GroupMoved:
    """Moves the group's store to another cell while it serves (seconds: its writes wait
    only at the end); the store it leaves stays until an operator drops it."""
    moved = move_group(cells, group_id, body.to_cell_id)
    return GroupMoved(
        group_id=group_id,
        cell_id=moved.placement.cell_id,
        former_cell_id=moved.former_cell_id,
        store_schema=moved.placement.schema,
        rows={table: tally.rows for table, tally in moved.tables.items()},
        digest=moved.digest,
        paused_seconds=moved.paused_seconds,
    )


@router.post("/brands", operation_id="registerBrand", status_code=status.HTTP_201_CREATED)
def register_brand(
    body: RegisterBrand,
    organisation: OrganisationDep,
    command: CommandDep,
    caller: Annotated[Caller, Depends(allow())],
) -> Accepted:
    """A brand of the caller's group."""
    if caller.brand_id is not None:
        raise Forbidden("an admin of one brand registers no other")
    result = organisation.register_brand(
        command, tenant(caller), body.code, body.name, body.time_zone, body.settlement_cadence
    )
    return Accepted.of(result)


@router.get("/brands/{brand_id}", operation_id="getBrand", dependencies=[Depends(anyone)])
def get_brand(brand_id: UUID, organisation: OrganisationDep) -> BrandView:
    return BrandView.model_validate(organisation.load(Brand, brand_id))


@router.get("/brands/by-code/{code}", operation_id="getBrandByCode")
def get_brand_by_code(
    code: Code,
    organisation: OrganisationDep,
    owners: OwnersDep,
    caller: Annotated[Caller, Depends(anyone)],
) -> BrandView:
    """The caller's group's brand with that code."""
    brand_id = Brand.create_id(tenant(caller), code)
    owners.admit(brand_id=brand_id)
    return BrandView.model_validate(organisation.load(Brand, brand_id))


@router.put(
    "/brands/{brand_id}/settlement-cadence",
    operation_id="changeSettlementCadence",
    dependencies=[Depends(allow())],
)
def change_settlement_cadence(
    brand_id: UUID,
    body: ChangeSettlementCadence,
    organisation: OrganisationDep,
    command: CommandDep,
) -> Accepted:
    result = organisation.change_settlement_cadence(
        command, brand_id, body.settlement_cadence, body.expected_version
    )
    return Accepted.of(result)


# --- regions, districts, branches ---------------------------------------------------


class RegisterUnit(StrictModel):
    code: Code
    name: Name


class RegisterDistrict(RegisterUnit):
    region_id: UUID


class UnitView(FromAttributes):
    id: UUID
    version: int
    brand_id: UUID
    code: str
    name: str
    region_id: UUID | None = None


@router.post(
    "/brands/{brand_id}/regions",
    operation_id="registerRegion",
    dependencies=[Depends(allow())],
    status_code=status.HTTP_201_CREATED,
)
def register_region(
    brand_id: UUID, body: RegisterUnit, organisation: OrganisationDep, command: CommandDep
) -> Accepted:
    return Accepted.of(organisation.register_region(command, brand_id, body.code, body.name))


@router.get("/regions/{region_id}", operation_id="getRegion", dependencies=[Depends(anyone)])
def get_region(region_id: UUID, organisation: OrganisationDep) -> UnitView:
    return UnitView.model_validate(organisation.load(Region, region_id))


@router.post(
    "/brands/{brand_id}/districts",
    operation_id="registerDistrict",
    dependencies=[Depends(allow())],
    status_code=status.HTTP_201_CREATED,
)
def register_district(
    brand_id: UUID, body: RegisterDistrict, organisation: OrganisationDep, command: CommandDep
) -> Accepted:
    result = organisation.register_district(command, brand_id, body.region_id, body.code, body.name)
    return Accepted.of(result)


@router.get("/districts/{district_id}", operation_id="getDistrict", dependencies=[Depends(anyone)])
def get_district(district_id: UUID, organisation: OrganisationDep) -> UnitView:
    return UnitView.model_validate(organisation.load(District, district_id))


@router.post(
    "/brands/{brand_id}/branches",
    operation_id="registerBranch",
    dependencies=[Depends(allow())],
    status_code=status.HTTP_201_CREATED,
)
def register_branch(
    brand_id: UUID, body: RegisterUnit, organisation: OrganisationDep, command: CommandDep
) -> Accepted:
    return Accepted.of(organisation.register_branch(command, brand_id, body.code, body.name))


@router.get("/branches/{branch_id}", operation_id="getBranch", dependencies=[Depends(anyone)])
def get_branch(branch_id: UUID, organisation: OrganisationDep) -> UnitView:
    return UnitView.model_validate(organisation.load(Branch, branch_id))


# --- nodes ------------------------------------------------------------------------------


class RegisterNode(StrictModel):
    code: Code
    name: Name
    kind: NodeKind
    branch_id: UUID
    location: Location
    ownership: StoreOwnership | None = Field(default=None, description="Stores only")
    district_id: UUID | None = Field(default=None, description="Stores only")
    city: str | None = Field(default=None, min_length=1, max_length=64)


class PauseNode(VersionedChange):
    reason: Reason


class SetDailyOrderCap(VersionedChange):
    daily_order_cap: int | None = Field(
        default=None, strict=True, ge=1, le=1_000_000, description="null lifts the cap"
    )


class SetOpeningHours(VersionedChange):
    opens: time = Field(description="HH:MM in the brand's time zone")
    closes: time = Field(description="HH:MM, later the same day")


class OpeningHoursView(FromAttributes):
    opens: time
    closes: time


class NodeView(FromAttributes):
    id: UUID
    version: int
    brand_id: UUID
    branch_id: UUID
    district_id: UUID | None
    code: str
    name: str
    kind: NodeKind
    ownership: StoreOwnership | None
    location: Location
    paused: bool
    pause_reason: str | None
    daily_order_cap: int | None
    city: str | None
    opening_hours: OpeningHoursView | None


@router.post(
    "/brands/{brand_id}/nodes",
    operation_id="registerNode",
    dependencies=[Depends(allow())],
    status_code=status.HTTP_201_CREATED,
)
def register_node(
    brand_id: UUID, body: RegisterNode, organisation: OrganisationDep, command: CommandDep
) -> Accepted:
    result = organisation.register_node(
        command,
        brand_id=brand_id,
        branch_id=body.branch_id,
        code=body.code,
        name=body.name,
        kind=body.kind,
        location=body.location.to_domain(),
        ownership=body.ownership,
        district_id=body.district_id,
        city=body.city,
    )
    return Accepted.of(result)


@router.get("/nodes/{node_id}", operation_id="getNode", dependencies=[Depends(anyone)])
def get_node(node_id: UUID, organisation: OrganisationDep) -> NodeView:
    return NodeView.model_validate(organisation.load(Node, node_id))


@router.get("/brands/{brand_id}/nodes/by-code/{code}", operation_id="getNodeByCode")
def get_node_by_code(
    brand_id: UUID,
    code: Code,
    organisation: OrganisationDep,
    owners: OwnersDep,
    caller: Annotated[Caller, Depends(anyone)],
) -> NodeView:
    node_id = natural_id("node", brand_id, code)
    owners.admit(node_id=node_id)
    return NodeView.model_validate(organisation.load(Node, node_id))


@router.post("/nodes/{node_id}/pause", operation_id="pauseNode", dependencies=[Depends(allow())])
def pause_node(
    node_id: UUID, body: PauseNode, organisation: OrganisationDep, command: CommandDep
) -> Accepted:
    result = organisation.pause_node(command, node_id, body.reason, body.expected_version)
    return Accepted.of(result)


@router.post("/nodes/{node_id}/resume", operation_id="resumeNode", dependencies=[Depends(allow())])
def resume_node(
    node_id: UUID, body: VersionedChange, organisation: OrganisationDep, command: CommandDep
) -> Accepted:
    return Accepted.of(organisation.resume_node(command, node_id, body.expected_version))


@router.put(
    "/nodes/{node_id}/daily-order-cap",
    operation_id="setNodeDailyOrderCap",
    dependencies=[Depends(allow())],
)
def set_daily_order_cap(
    node_id: UUID, body: SetDailyOrderCap, organisation: OrganisationDep, command: CommandDep
) -> Accepted:
    result = organisation.set_node_daily_order_cap(
        command, node_id, body.daily_order_cap, body.expected_version
    )
    return Accepted.of(result)


@router.put(
    "/nodes/{node_id}/opening-hours",
    operation_id="setStoreOpeningHours",
    dependencies=[Depends(allow())],
)
def set_opening_hours(
    node_id: UUID, body: SetOpeningHours, organisation: OrganisationDep, command: CommandDep
) -> Accepted:
    hours = OpeningHours(body.opens, body.closes)
    return Accepted.of(
        organisation.set_store_opening_hours(command, node_id, hours, body.expected_version)
    )


# --- guides ------------------------------------------------------------------------------


class HireGuide(StrictModel):
    code: Code
    name: Name
    store_id: UUID


class TransferGuide(StrictModel):
    to_store_id: UUID
    expected_version: ExpectedVersion = None


class GuideLeaves(VersionedChange):
    reason: Reason


class GuideView(FromAttributes):
    id: UUID
    version: int
    brand_id: UUID
    code: str
    name: str
    store_id: UUID
    status: GuideStatus


@router.post(
    "/brands/{brand_id}/guides",
    operation_id="hireGuide",
    dependencies=[Depends(allow())],
    status_code=status.HTTP_201_CREATED,
)
def hire_guide(
    brand_id: UUID, body: HireGuide, organisation: OrganisationDep, command: CommandDep
) -> Accepted:
    result = organisation.hire_guide(command, brand_id, body.code, body.name, body.store_id)
    return Accepted.of(result)


@router.get("/guides/{guide_id}", operation_id="getGuide", dependencies=[Depends(anyone)])
def get_guide(guide_id: UUID, organisation: OrganisationDep) -> GuideView:
    return GuideView.model_validate(organisation.load(Guide, guide_id))


@router.get("/brands/{brand_id}/guides/by-code/{code}", operation_id="getGuideByCode")
def get_guide_by_code(
    brand_id: UUID,
    code: Code,
    organisation: OrganisationDep,
    owners: OwnersDep,
    caller: Annotated[Caller, Depends(anyone)],
) -> GuideView:
    guide_id = natural_id("guide", brand_id, code)
    owners.admit(guide_id=guide_id)
    return GuideView.model_validate(organisation.load(Guide, guide_id))


@router.post(
    "/guides/{guide_id}/transfer", operation_id="transferGuide", dependencies=[Depends(allow())]
)
def transfer_guide(
    guide_id: UUID, body: TransferGuide, organisation: OrganisationDep, command: CommandDep
) -> Accepted:
    result = organisation.transfer_guide(command, guide_id, body.to_store_id, body.expected_version)
    return Accepted.of(result)


@router.post(
    "/guides/{guide_id}/leave", operation_id="recordGuideLeft", dependencies=[Depends(allow())]
)
def guide_leaves(
    guide_id: UUID, body: GuideLeaves, organisation: OrganisationDep, command: CommandDep
) -> Accepted:
    result = organisation.record_guide_left(command, guide_id, body.reason, body.expected_version)
    return Accepted.of(result)
