from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidValue
from domain.money import apply_rate, round_half_up, split


def test_rates_are_exact_until_rounded_half_up() -> None:
    assert apply_rate(12_345, 250) == Fraction(12_345 * 250, 10_000)
    assert round_half_up(Fraction(5, 2)) == 3
    assert round_half_up(Fraction(-5, 2)) == -3
    assert round_half_up(Fraction(249, 100)) == 2


def test_split_gives_leftover_fen_to_the_largest_remainders() -> None:
    assert split(100, [1, 1, 1]) == [34, 33, 33]
    assert split(10, [3, 3, 4]) == [3, 3, 4]
    assert split(-100, [1, 1, 1]) == [-34, -33, -33]
    assert split(0, [0, 0]) == [0, 0]


def test_split_refuses_nonsense() -> None:
    with pytest.raises(InvalidValue):
        split(5, [0, 0])
    with pytest.raises(InvalidValue):
        split(5, [1, -1])


@given(
    total=st.integers(-(10**9), 10**9),
    weights=st.lists(st.integers(0, 10**6), min_size=1, max_size=12).filter(any),
)
def test_parts_always_add_up_to_the_whole(total: int, weights: list[int]) -> None:
    parts = split(total, weights)
    assert sum(parts) == total
    whole = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        assert abs(part - Fraction(total * weight, whole)) < 1
