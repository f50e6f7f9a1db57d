"""Value objects shared by several aggregates."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from guideledger.kernel.errors import InvalidValue

#: Money is always an integer number of fen (CNY cents).
Fen = int

_ID_NAMESPACE = uuid5(NAMESPACE_URL, "https://guideledger.example/ids")


def natural_id(kind: str, *parts: object) -> UUID:
    """A deterministic id for an aggregate whose identity is natural.

    `natural_id("sku", brand_id, "SKU-1")` is the same on every machine, so a
    duplicate registration collides in the event store instead of creating twice.
    """
    return uuid5(_ID_NAMESPACE, "/" + "/".join([kind, *map(str, parts)]))


def require_utc(moment: datetime) -> datetime:
    """Events store instants in UTC; refuse naive datetimes."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidValue("timestamps must carry a time zone", value=str(moment))
    return moment


def require_text(field: str, value: str, max_length: int = 200) -> str:
    stripped = value.strip()
    if not stripped:
        raise InvalidValue(f"{field} must not be blank", field=field)
    if len(stripped) > max_length:
        raise InvalidValue(f"{field} is longer than {max_length} characters", field=field)
    return stripped


def require_positive(field: str, value: int) -> int:
    if value <= 0:
        raise InvalidValue(f"{field} must be a positive whole number", field=field, value=value)
    return value


def require_non_negative(field: str, value: int) -> int:
    if value < 0:
        raise InvalidValue(f"{field} must not be negative", field=field, value=value)
    return value


EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class GeoPoint:
    """A WGS-84 position in decimal degrees."""

    latitude: float
    longitude: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.latitude) and -90.0 <= self.latitude <= 90.0):
            raise InvalidValue("latitude must be between -90 and 90", value=self.latitude)
        if not (math.isfinite(self.longitude) and -180.0 <= self.longitude <= 180.0):
            raise InvalidValue("longitude must be between -180 and 180", value=self.longitude)

    def distance_km(self, other: GeoPoint) -> float:
        """Great-circle distance by the haversine formula."""
        lat1, lon1, lat2, lon2 = map(
            math.radians, (self.latitude, self.longitude, other.latitude, other.longitude)
        )
        a = (
            math.sin((lat2 - lat1) / 2) ** 2
            + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
        )
        return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))
