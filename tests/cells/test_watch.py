"""How a process tells a lost cell from a busy one: a stopped server refuses every ask,
while a process busy with a burst may miss one answer."""

from __future__ import annotations

from guideledger.cells.watch import MISSES, Pings, answers_now
from tests.ports import free_port


def test_a_cell_is_lost_only_after_missing_asks_in_a_row() -> None:
    nobody = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    pings = Pings()
    answers = [pings.answers("gone", nobody) for _ in range(MISSES)]
    assert answers == [True] * (MISSES - 1) + [False]
    pings.close()


def test_an_answer_forgives_the_misses(postgres_url: str) -> None:
    nobody = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    pings = Pings()
    assert pings.answers("cell", nobody)  # one miss
    assert pings.answers("cell", postgres_url)
    assert pings.answers("cell", nobody)  # one miss again, not two
    pings.close()


def test_a_server_answers_or_not(postgres_url: str) -> None:
    assert answers_now(postgres_url)
    assert not answers_now(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres")
