"""Request and response shapes shared by several routers."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from guideledger.eventstore.commands import CommandResult
from guideledger.kernel.values import GeoPoint

MAX_FEN = 10**12  # CNY 10 billion: far above any real amount, far below overflow

Fen = Annotated[int, Field(strict=True, ge=0, le=MAX_FEN, description="Money in fen (CNY cents)")]
PositiveFen = Annotated[int, Field(strict=True, ge=1, le=MAX_FEN)]
Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][\w.-]*$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Reason = Annotated[str, Field(min_length=1, max_length=500)]
Version = Annotated[int, Field(strict=True, ge=1)]
ExpectedVersion = Annotated[
    int | None,
    Field(strict=True, ge=1, description="Refuse with 409 unless the aggregate is at this version"),
]


class FromAttributes(BaseModel):
    """A response read straight off an aggregate's attributes."""

    model_config = ConfigDict(from_attributes=True)


class StrictModel(BaseModel):
    """Unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class Location(StrictModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    latitude: float = Field(ge=-90, le=90, allow_inf_nan=False)
    longitude: float = Field(ge=-180, le=180, allow_inf_nan=False)

    def to_domain(self) -> GeoPoint:
        return GeoPoint(self.latitude, self.longitude)

    @classmethod
    def from_domain(cls, point: GeoPoint) -> Location:
        return cls(latitude=point.latitude, longitude=point.longitude)


class Accepted(BaseModel):
    """A command's outcome: which aggregate, at which version."""

    id: UUID
    version: Version

    @classmethod
    def of(cls, result: CommandResult) -> Accepted:
        return cls(id=result.id, version=result.version)


class VersionedChange(StrictModel):
    expected_version: ExpectedVersion = None
