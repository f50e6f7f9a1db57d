"""Money arithmetic in integer fen with explicit rounding.

Rates are basis points (1/100 of a percent). Exact shares are kept as integer
numerators over a known denominator and rounded once, half up; no float and no
`Fraction` (integer division is exact and several times faster). A split of a
whole into parts uses the largest-remainder method, so the parts always add up
to the whole.
"""

from __future__ import annotations

from collections.abc import Sequence

from guideledger.kernel.errors import InvalidValue

BASIS_POINTS = 10_000


def divide_half_up(numerator: int, denominator: int) -> int:
    """The whole number nearest `numerator / denominator`; halves go away from zero."""
    if denominator <= 0:
        raise InvalidValue("a share is taken over a positive whole")
    quotient = (2 * abs(numerator) + denominator) // (2 * denominator)
    return -quotient if numerator < 0 else quotient


def at_rate(amount_fen: int, rate_bp: int) -> int:
    """`amount_fen` at `rate_bp` basis points, rounded half up."""
    return divide_half_up(amount_fen * rate_bp, BASIS_POINTS)


def split(total: int, weights: Sequence[int]) -> list[int]:
    """Splits `total` fen in proportion to `weights`; the parts sum to `total` exactly.

    Each part gets the floor of its exact share; the fen left over go one each
    to the parts with the largest remainders (ties: the earlier part).
    """
    if any(w < 0 for w in weights):
        raise InvalidValue("weights must not be negative")
    whole = sum(weights)
    if whole == 0:
        if total:
            raise InvalidValue("cannot split a non-zero amount over zero weights")
        return [0] * len(weights)
    sign, magnitude = (-1, -total) if total < 0 else (1, total)
    floors_and_remainders = [divmod(magnitude * w, whole) for w in weights]
    parts = [part for part, _ in floors_and_remainders]
    leftover = magnitude - sum(parts)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-floors_and_remainders[i][1], i))
    for i in by_remainder[:leftover]:
        parts[i] += 1
    return [sign * part for part in parts]
