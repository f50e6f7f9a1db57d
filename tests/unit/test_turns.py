"""Turns: items of one process naming the same keys run in turns, a turn taking every item
waiting on keys it holds; no two items ever wait for each other, none is overtaken for ever."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Hashable, Iterable
from concurrent.futures import ThreadPoolExecutor

from guideledger.eventstore.concurrency import Turns
from tests.turns import WatchedList


class Recorder:
    """Runs turns, recording the items of each; the item named "first" waits to be released."""

    def __init__(self, turns: Turns[str]) -> None:
        self.turns = turns
        self.waiting = WatchedList()
        turns._waiting = self.waiting
        self.batches: list[list[str]] = []
        self.first_running, self.release_first = threading.Event(), threading.Event()

    def run(self, batch: list[str]) -> None:
        if "first" in batch:
            self.first_running.set()
            assert self.release_first.wait(5)
        self.batches.append(batch)

    def start(self, item: str, keys: Iterable[Hashable]) -> threading.Thread:
        thread = threading.Thread(target=self.turns.run, args=(frozenset(keys), item, self.run))
        thread.start()
        return thread

    def behind_a_held_turn(self, first_keys: set[str], queued: list[tuple[str, set[str]]]) -> None:
        """Holds a turn on `first_keys`, queues the other items in order, then lets all run."""
        threads = [self.start("first", first_keys)]
        assert self.first_running.wait(5)
        for count, (item, keys) in enumerate(queued, start=1):
            threads.append(self.start(item, keys))
            self.waiting.wait_for(count)
        self.release_first.set()
        for thread in threads:
            thread.join(5)
            assert not thread.is_alive()


def test_an_item_alone_runs_at_once_in_its_own_turn() -> None:
    recorder = Recorder(Turns())
    recorder.release_first.set()
    recorder.turns.run(frozenset({"sku-a"}), "only", recorder.run)
    assert recorder.batches == [["only"]]


def test_items_waiting_on_a_turns_keys_run_together_in_the_next_turn() -> None:
    recorder = Recorder(Turns())
    recorder.behind_a_held_turn({"sku-a"}, [("b", {"sku-a"}), ("c", {"sku-a"}), ("d", {"sku-a"})])
    assert recorder.batches == [["first"], ["b", "c", "d"]]


def test_items_on_other_keys_do_not_wait() -> None:
    recorder = Recorder(Turns())
    held = recorder.start("first", {"sku-a"})
    assert recorder.first_running.wait(5)
    recorder.turns.run(frozenset({"sku-b"}), "other", recorder.run)
    assert recorder.batches == [["other"]]
    recorder.release_first.set()
    held.join(5)
    assert recorder.batches == [["other"], ["first"]]


def test_a_turn_takes_only_the_items_whose_keys_it_holds() -> None:
    recorder = Recorder(Turns())
    recorder.behind_a_held_turn(
        {"sku-a"}, [("a", {"sku-a"}), ("a-and-b", {"sku-a", "sku-b"}), ("a-again", {"sku-a"})]
    )
    # "a" leads the next turn, on sku-a alone, and takes "a-again" with it; "a-and-b" needs
    # sku-b too, so it runs in the turn after.
    assert recorder.batches == [["first"], ["a", "a-again"], ["a-and-b"]]


def test_an_item_waits_behind_an_earlier_one_wanting_its_key() -> None:
    recorder = Recorder(Turns())
    recorder.behind_a_held_turn({"sku-a"}, [("a-and-b", {"sku-a", "sku-b"}), ("b", {"sku-b"})])
    # sku-b was free when "b" came, but "a-and-b" came first and wants it.
    assert recorder.batches == [["first"], ["a-and-b", "b"]]


def test_a_turn_takes_at_most_its_limit() -> None:
    recorder = Recorder(Turns(limit=2))
    queued = [(name, {"sku-a"}) for name in ("b", "c", "d")]
    recorder.behind_a_held_turn({"sku-a"}, queued)
    assert recorder.batches == [["first"], ["b", "c"], ["d"]]


def test_items_naming_keys_in_any_order_never_deadlock_and_each_runs_once() -> None:
    turns: Turns[int] = Turns()
    counts = {"x": 0, "y": 0, "z": 0}
    ran: list[int] = []
    shapes = (["x", "y", "z"], ["z", "y"], ["y"], ["x"])

    def run(batch: list[int]) -> None:
        for item in batch:
            ran.append(item)
            for key in shapes[item % len(shapes)]:
                counts[key] += 1  # not atomic: only turns keep it right

    def work(thread: int) -> None:
        for n in range(200):
            item = thread * 1000 + n
            turns.run(frozenset(shapes[item % len(shapes)]), item, run)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(8)))
    assert sorted(ran) == sorted(t * 1000 + n for t in range(8) for n in range(200))
    per_shape = 8 * 200 // len(shapes)
    assert counts == {"x": 2 * per_shape, "y": 3 * per_shape, "z": 2 * per_shape}


def test_items_woken_in_a_turn_that_failed_are_not_left_waiting() -> None:
    recorder = Recorder(Turns())

    def failing(batch: list[str]) -> None:
        recorder.run(batch)
        raise RuntimeError("the turn failed")

    def run_failing(item: str) -> None:
        with contextlib.suppress(RuntimeError):
            recorder.turns.run(frozenset({"sku-a"}), item, failing)

    first = threading.Thread(target=run_failing, args=("first",))
    first.start()
    assert recorder.first_running.wait(5)
    second = threading.Thread(target=run_failing, args=("second",))
    third = threading.Thread(target=run_failing, args=("third",))
    second.start()
    recorder.waiting.wait_for(1)
    third.start()
    recorder.waiting.wait_for(2)
    recorder.release_first.set()
    for thread in (first, second, third):
        thread.join(5)
        assert not thread.is_alive()
    assert recorder.batches == [["first"], ["second", "third"]]
