"""The one DO_JUMP walker behind the no-fly check and the imported-route estimate."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from mission.planning.jumps import TooManySteps, run_order
from mission.planning.vehicle_items import DO_JUMP, NAV_WAYPOINT

pytestmark = pytest.mark.nopg


@dataclass(frozen=True)
class It:
    command: int
    param1: float = 0.0
    param2: float = 0.0


WP = It(NAV_WAYPOINT)


def test_each_jump_has_its_own_counter_and_nested_loops_unroll() -> None:
    # seq 1..5: wp, wp, jump to 2 once, wp, jump to 1 twice (items[0] is seq 1)
    items = [WP, WP, It(DO_JUMP, 2, 1), WP, It(DO_JUMP, 1, 2)]
    order = list(run_order(items, first=0, first_seq=1, max_steps=100))
    # outer pass 1: 0 1 [jump] 1 3 [jump] ; pass 2: 0 1 [jump: spent] 3 ... ; pass 3 likewise
    assert order == [0, 1, 1, 3, 0, 1, 3, 0, 1, 3]


def test_home_slot_offset_and_bad_targets_are_passed_over() -> None:
    with_home = [WP, WP, It(DO_JUMP, 1, 1), It(DO_JUMP, 0, 5), It(DO_JUMP, 99, 5), WP]
    assert list(run_order(with_home, first=1, first_seq=0, max_steps=100)) == [1, 1, 5]


def test_forever_is_never_taken_and_long_loops_stop() -> None:
    assert list(run_order([WP, It(DO_JUMP, 1, -1)], first=0, first_seq=1,
                          max_steps=100)) == [0]
    with pytest.raises(TooManySteps) as e:
        list(run_order([WP, It(DO_JUMP, 1, 1000)], first=0, first_seq=1, max_steps=50))
    assert e.value.limit == 50 and "50 items" in str(e.value)
