"""The order in which ArduCopter runs a mission's items, DO_JUMPs followed (AP_Mission: a jump
to seq param1, taken param2 times, each jump with its own counter). The no-fly check
(flight_path) and the flight-time estimate of imported routes (flown_route) both walk this
order: one walker, so the path that is checked is the path that is estimated.

A jump that repeats forever (param2 < 0) is never taken here: callers refuse it first (the
check and the estimate both need a bounded flight). Pure: no FastAPI, no database.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from mission.planning.vehicle_items import DO_JUMP


class JumpItem(Protocol):
    @property
    def command(self) -> int: ...
    @property
    def param1(self) -> float: ...
    @property
    def param2(self) -> float: ...


class TooManySteps(Exception):
    """The unrolled mission runs more than `limit` items; `index` is where it got to."""

    def __init__(self, index: int, limit: int) -> None:
        super().__init__(f"the mission runs more than {limit} items once its DO_JUMPs are "
                         "unrolled")
        self.index = index
        self.limit = limit


def run_order(items: Sequence[JumpItem], *, first: int, first_seq: int,
              max_steps: int) -> Iterator[int]:
    """Indices into `items` of the items the vehicle runs, from items[first], in order; jumps
    themselves are not yielded. `first_seq` is the seq of items[0] (1 for a list without the
    home slot, 0 with it). A jump to seq 0 (the home slot) or past the list is passed over;
    the checks refuse such a jump before anything is flown (flight_path.static_problems).
    Raises TooManySteps past `max_steps` items run."""
    taken: dict[int, int] = {}
    i, steps = first, 0
    while 0 <= i < len(items):
        steps += 1
        if steps > max_steps:
            raise TooManySteps(i, max_steps)
        it = items[i]
        if it.command == DO_JUMP:
            target = int(it.param1) - first_seq
            if (it.param1 >= 1 and 0 <= target < len(items)
                    and taken.get(i, 0) < int(it.param2)):
                taken[i] = taken.get(i, 0) + 1
                i = target
            else:
                i += 1
            continue
        yield i
        i += 1
