"""The organisation as managers name it: regions, districts, branches and nodes with
their codes and names, for filters and labels (the dashboard's lists)."""

from __future__ import annotations

from typing import Any, Protocol
from uuid import UUID

from guideledger.organisation.domain.guides import Guide
from guideledger.organisation.domain.units import Branch, District, Node, Region
from guideledger.readmodels.model import Projection, ReadModels, RowChange, Table, Upsert, on

UNITS = Table(
    name="unit_directory",
    key=("unit_id",),
    columns={
        "unit_id": "uuid",
        "brand_id": "uuid",
        "kind": "text",  # region, district, branch, store or warehouse
        "code": "text",
        "name": "text",
        "region_id": "uuid",  # a district's region
        "branch_id": "uuid",  # a node's branch
        "district_id": "uuid",  # a store's district
    },
    indexes=(("brand_id", "kind"),),
)


class UnitDirectory(Projection):
    name = "unit_directory"
    application = "organisation"
    tables = (UNITS,)

    @on(Region.Registered)
    def region(self, event: Region.Registered) -> list[RowChange]:
        return [_unit(event, "region")]

    @on(District.Registered)
    def district(self, event: District.Registered) -> list[RowChange]:
        return [_unit(event, "district", region_id=event.region_id)]

    @on(Branch.Registered)
    def branch(self, event: Branch.Registered) -> list[RowChange]:
        return [_unit(event, "branch")]

    @on(Node.Registered)
    def node(self, event: Node.Registered) -> list[RowChange]:
        above = {"branch_id": event.branch_id, "district_id": event.district_id}
        return [_unit(event, str(event.kind), **above)]


class _UnitRegistered(Protocol):
    @property
    def originator_id(self) -> UUID: ...
    @property
    def brand_id(self) -> UUID: ...
    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...


def _unit(event: _UnitRegistered, kind: str, **above: UUID | None) -> Upsert:
    """A unit's row, with the units above it (a district's region, a node's branch and
    district)."""
    row = {"brand_id": event.brand_id, "code": event.code, "name": event.name, "kind": kind}
    return Upsert(UNITS, (event.originator_id,), {**row, **above})


def units(read_models: ReadModels, brand_id: UUID, kind: str | None = None) -> list[dict[str, Any]]:
    """The brand's units (of one kind, if given), by code."""
    read_models.catch_up(UnitDirectory)
    where: dict[str, Any] = {"brand_id": brand_id, **({"kind": kind} if kind else {})}
    return read_models.select(UNITS, where, order_by=("code",))


GUIDES = Table(
    name="guide_directory",
    key=("guide_id",),
    columns={
        "guide_id": "uuid",
        "brand_id": "uuid",
        "store_id": "uuid",
        "code": "text",
        "name": "text",
        "active": "bool",
    },
    indexes=(("store_id",), ("brand_id",)),
)


class GuideDirectory(Projection):
    """Which store each guide works in now, and whether they still work here."""

    name = "guide_directory"
    application = "organisation"
    tables = (GUIDES,)

    @on(Guide.Hired)
    def hired(self, event: Guide.Hired) -> list[RowChange]:
        row = {
            "brand_id": event.brand_id,
            "store_id": event.store_id,
            "code": event.code,
            "name": event.name,
            "active": True,
        }
        return [Upsert(GUIDES, (event.originator_id,), row)]

    @on(Guide.Transferred)
    def transferred(self, event: Guide.Transferred) -> list[RowChange]:
        return [Upsert(GUIDES, (event.originator_id,), {"store_id": event.to_store_id})]

    @on(Guide.Left)
    def left(self, event: Guide.Left) -> list[RowChange]:
        return [Upsert(GUIDES, (event.originator_id,), {"active": False})]
