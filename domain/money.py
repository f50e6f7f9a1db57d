"""Money arithmetic in integer fen with explicit rounding.

Rates are basis points (1/100 of a percent). A split of a whole into parts
uses the largest-remainder method, so the parts always add up to the whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from domain.errors import InvalidValue

BASIS_POINTS = 10_000


def round_half_up(amount: Fraction) -> int:
    """The nearest whole fen; halves go away from zero."""
    sign = -1 if amount < 0 else 1
    return sign * int(abs(amount) + Fraction(1, 2))


def apply_rate(amount_fen: int, rate_bp: int) -> Fraction:
    """The exact (unrounded) share of `amount_fen` at `rate_bp` basis points."""
    return Fraction(amount_fen * rate_bp, BASIS_POINTS)


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
    exact = [Fraction(magnitude * w, whole) for w in weights]
    parts = [int(share) for share in exact]
    leftover = magnitude - sum(parts)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in by_remainder[:leftover]:
        parts[i] += 1
    return [sign * part for part in parts]
