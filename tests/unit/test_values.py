from datetime import datetime

import pytest

from guideledger.kernel.errors import InvalidValue
from guideledger.kernel.values import GeoPoint, natural_id, require_utc

SHANGHAI = GeoPoint(31.2304, 121.4737)
BEIJING = GeoPoint(39.9042, 116.4074)


def test_great_circle_distance_between_shanghai_and_beijing_is_about_1068_km() -> None:
    assert SHANGHAI.distance_km(BEIJING) == pytest.approx(1068, abs=5)


def test_distance_is_symmetric_and_zero_to_itself() -> None:
    assert SHANGHAI.distance_km(BEIJING) == pytest.approx(BEIJING.distance_km(SHANGHAI))
    assert SHANGHAI.distance_km(SHANGHAI) == 0


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [(91, 0), (-91, 0), (0, 181), (0, -181), (float("nan"), 0), (0, float("inf"))],
)
def test_refuses_positions_off_the_globe(latitude: float, longitude: float) -> None:
    with pytest.raises(InvalidValue):
        GeoPoint(latitude, longitude)


def test_natural_ids_are_deterministic_and_distinct_per_kind() -> None:
    assert natural_id("sku", "b", "X") == natural_id("sku", "b", "X")
    assert natural_id("sku", "b", "X") != natural_id("node", "b", "X")


def test_refuses_naive_timestamps() -> None:
    with pytest.raises(InvalidValue):
        require_utc(datetime(2026, 1, 1))  # noqa: DTZ001
