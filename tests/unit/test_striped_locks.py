"""Commands of one process that touch the same keys take turns; no two ever deadlock."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from guideledger.eventstore.concurrency import StripedLocks


def test_a_command_on_a_shared_key_waits_for_the_one_holding_it() -> None:
    locks = StripedLocks()
    holding, release = threading.Event(), threading.Event()
    order: list[str] = []

    def first() -> None:
        with locks.holding(["sku-a", "sku-b"]):
            holding.set()
            release.wait(5)
            order.append("first")

    def second() -> None:
        holding.wait(5)
        with locks.holding(["sku-b", "sku-c"]):
            order.append("second")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    holding.wait(5)
    release.set()
    for thread in threads:
        thread.join(5)
    assert order == ["first", "second"]


def test_commands_naming_keys_in_opposite_orders_never_deadlock() -> None:
    locks = StripedLocks(stripes=4)
    counter = {"n": 0}

    def work(n: int) -> None:
        keys = ["x", "y", "z"] if n % 2 else ["z", "y", "x"]
        for _ in range(200):
            with locks.holding(keys):
                counter["n"] += 1

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(8)))
    assert counter["n"] == 8 * 200


def test_the_same_key_twice_takes_its_lock_once() -> None:
    with StripedLocks().holding(["sku-a", "sku-a"]):
        pass
