"""Photos judged side by side take their turns at the history in the order they arrived."""

from __future__ import annotations

import threading

from proofwatch.pipeline.order import ArrivalOrder


def test_a_later_photo_waits_for_the_turns_of_every_earlier_one() -> None:
    order = ArrivalOrder()
    first, second, third = order.ticket(), order.ticket(), order.ticket()
    entered: list[int] = []

    def take(ticket: int) -> None:
        with order.turn(ticket):
            entered.append(ticket)

    late = threading.Thread(target=take, args=(third,))
    late.start()
    late.join(0.2)
    assert late.is_alive() and entered == []  # two earlier photos have not had their turn
    order.passed(second)  # left without one (set aside, or no history to read)
    late.join(0.2)
    assert late.is_alive() and entered == []
    take(first)
    late.join(10)
    assert entered == [first, third]


def test_a_photo_whose_earlier_ones_are_all_done_goes_at_once() -> None:
    order = ArrivalOrder()
    first = order.ticket()
    with order.turn(first):
        pass
    order.passed(first)  # said again as the photo leaves: harmless
    second = order.ticket()
    with order.turn(second):
        pass
