"""Aggregates whose state is flat: immutable values, and containers holding only those."""

from __future__ import annotations

from typing import Any, Self


class FlatState:
    """Copied by copying its containers: a deep copy, since all they hold is immutable.

    The repository deep-copies each aggregate it hands a command from its cache, and
    `copy.deepcopy` walks every element: thousands of reservations of a promotion's SKU,
    thousands of orders a warehouse took today. A container's own `copy` is C speed."""

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        copied = object.__new__(type(self))
        copied.__dict__.update(
            {
                name: value.copy() if isinstance(value, dict | list | set) else value
                for name, value in self.__dict__.items()
            }
        )
        return copied
