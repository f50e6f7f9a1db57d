from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guideledger.kernel.errors import InvalidValue
from guideledger.kernel.money import at_rate, divide_half_up, split


def test_shares_round_half_up_away_from_zero() -> None:
    assert at_rate(12_345, 250) == 309  # 308.625
    assert at_rate(200, 250) == 5  # 5 exactly
    assert divide_half_up(5, 2) == 3
    assert divide_half_up(-5, 2) == -3
    assert divide_half_up(249, 100) == 2
    with pytest.raises(InvalidValue):
        divide_half_up(1, 0)


@given(numerator=st.integers(-(10**15), 10**15), denominator=st.integers(1, 10**9))
def test_integer_rounding_equals_exact_rounding(numerator: int, denominator: int) -> None:
    exact = Fraction(numerator, denominator)
    nearest = divide_half_up(numerator, denominator)
    assert abs(exact - nearest) <= Fraction(1, 2)
    if abs(exact - nearest) == Fraction(1, 2):
        assert abs(nearest) > abs(exact)  # a half goes away from zero


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
