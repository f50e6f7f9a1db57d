"""Coalescing a batch's row changes writes fewer rows and changes nothing."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from guideledger.readmodels.model import Delete, Increment, RowChange, Table, Upsert, coalesce
from guideledger.readmodels.store import MemoryReadModelStore

ROWS = Table("rows", key=("k",), columns={"k": "int", "a": "int", "b": "int", "tag": "text"})

keys = st.integers(0, 3)
changes = st.lists(
    st.one_of(
        st.builds(
            lambda k, a, tag: Upsert(ROWS, (k,), {"a": a, "tag": tag}),
            keys,
            st.integers(-5, 5),
            st.sampled_from(["x", "y"]),
        ),
        st.builds(lambda k, b: Upsert(ROWS, (k,), {"b": b}), keys, st.integers(-5, 5) | st.none()),
        st.builds(
            lambda k, a, b: Increment(ROWS, (k,), {"a": a, "b": b}, fixed={"tag": "new"}),
            keys,
            st.integers(-5, 5),
            st.integers(-5, 5),
        ),
        st.builds(lambda k: Delete(ROWS, (k,)), keys),
    ),
    max_size=30,
)


def applied(batch: list[RowChange]) -> dict[Any, Any]:
    store = MemoryReadModelStore()
    store.create_tables([ROWS])
    store.install_position("p")
    store.apply("p", 0, 1, batch)
    return store.rows["rows"]


@given(changes)
def test_coalesced_changes_leave_the_same_rows(batch: list[RowChange]) -> None:
    assert applied(coalesce(batch)) == applied(batch)


def test_a_stock_positions_opening_and_receipts_become_one_write() -> None:
    opened = Upsert(ROWS, (1,), {"a": 0, "b": 0, "tag": "open"})
    receipts = [Increment(ROWS, (1,), {"a": n}) for n in range(1, 100)]
    assert coalesce([opened, *receipts]) == [Upsert(ROWS, (1,), {"a": 4950, "b": 0, "tag": "open"})]
