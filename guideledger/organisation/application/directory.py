"""The organisation as managers name it: regions, districts, branches and nodes with
their codes and names, for filters and labels (the dashboard's lists)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from guideledger.organisation.domain.structure import Branch, District, Guide, Node, Region
from guideledger.readmodels.model import Projection, ReadModels, RowChange, Table, Upsert

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
    handles = tuple((unit, "Registered") for unit in (Region, District, Branch, Node))

    def changes(self, event: Any) -> Iterable[RowChange]:
        row = {
            "brand_id": event.brand_id,
            "code": event.code,
            "name": event.name,
            "kind": _kind(event),
            "region_id": getattr(event, "region_id", None),
            "branch_id": getattr(event, "branch_id", None),
            "district_id": getattr(event, "district_id", None),
        }
        return [Upsert(UNITS, (event.originator_id,), row)]


def _kind(event: Any) -> str:
    """A node's kind (store or warehouse), else the unit's class: region, district, branch."""
    unit = type(event).__qualname__.split(".")[0].lower()
    return str(event.kind) if unit == "node" else unit


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
    handles = tuple((Guide, name) for name in ("Hired", "Transferred", "Left"))

    def changes(self, event: Any) -> Iterable[RowChange]:
        key = (event.originator_id,)
        match type(event).__name__:
            case "Hired":
                row = {
                    "brand_id": event.brand_id,
                    "store_id": event.store_id,
                    "code": event.code,
                    "name": event.name,
                    "active": True,
                }
                return [Upsert(GUIDES, key, row)]
            case "Transferred":
                return [Upsert(GUIDES, key, {"store_id": event.to_store_id})]
            case "Left":
                return [Upsert(GUIDES, key, {"active": False})]
        return []
