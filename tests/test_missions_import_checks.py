"""The import checks on their own (mission.missions.imports, no service): which positions are
judged against the drone's reach and the import radius, and which values are refused."""

from __future__ import annotations

import math

import pytest

from mission.missions import imports
from mission.missions.inputs import MissionInputError
from mission.planning.formats import ImportedMission
from mission.planning.model import Drone, MissionItem
from test_planning_support import BASE, at

DRONE = Drone("1", BASE, 100.0, position=BASE, base_amsl_m=455.0)


def file_with(*rest: MissionItem, home: MissionItem | None = None) -> ImportedMission:
    first = home or MissionItem(0, 0, 16, lat=BASE.lat, lon=BASE.lon, alt=455.0)
    return ImportedMission((first, MissionItem(1, 3, 22, alt=30.0), *rest))


def wp(seq: int, north_m: float, command: int = 16) -> MissionItem:
    p = at(north_m, 0)
    return MissionItem(seq, 3, command, lat=p.lat, lon=p.lon, alt=30.0)


def refusal(imported: ImportedMission, radius_m: float = 20_000.0,
            drone: Drone = DRONE) -> str:
    with pytest.raises(MissionInputError) as e:
        imports.check_reach(imported, drone, "drone 1", radius_m, 25.0)
    return e.value.message


def test_a_later_waypoint_or_new_home_beyond_reach_is_refused() -> None:
    imports.check_reach(file_with(wp(2, 500), wp(3, 1000)), DRONE, "drone 1", 20_000.0, 25.0)
    msg = refusal(file_with(wp(2, 500), wp(3, 5000)))
    assert msg.startswith("the file's item (item 3, NAV_WAYPOINT (16))") and "5.0 km" in msg
    msg = refusal(file_with(wp(2, 500), wp(3, 4000, command=179)))
    assert "item 3, DO_SET_HOME (179)" in msg


def test_the_limit_is_the_smaller_of_reach_and_radius_and_both_are_named() -> None:
    msg = refusal(file_with(wp(2, 1500)), radius_m=1000.0)
    assert "1.5 km from drone 1; the limit is 1.0 km" in msg
    assert "import radius NAZORAT_IMPORT_RADIUS_M: 1.0 km" in msg
    low = Drone("1", BASE, 30.0, position=BASE, base_amsl_m=455.0)
    msg = refusal(file_with(wp(2, 500)), drone=low)
    assert "30 % battery and the 25 % reserve: 213 m" in msg


def test_a_home_slot_at_null_island_is_no_home() -> None:
    imported = file_with(wp(2, 500), home=MissionItem(0, 0, 16))
    imports.check_reach(imported, DRONE, "drone 1", 20_000.0, 25.0)


def test_values_that_are_not_finite_numbers_are_refused() -> None:
    bad_alt = MissionItem(2, 3, 16, lat=at(100, 0).lat, lon=at(100, 0).lon, alt=math.nan)
    with pytest.raises(MissionInputError, match="item 2 .NAV_WAYPOINT .16..: a value is not"):
        imports.check(file_with(bad_alt), 120.0, 455.0)
    with pytest.raises(MissionInputError, match="item 2"):
        imports.check(file_with(MissionItem(2, 2, 178, 1.0, math.inf)), 120.0, 455.0)
    # NaN yaw (QGroundControl's null) on a waypoint is accepted, stored as 0
    yaw = MissionItem(2, 3, 16, param4=math.nan, lat=at(100, 0).lat, lon=at(100, 0).lon,
                      alt=30.0)
    imports.check(file_with(yaw), 120.0, 455.0)


def test_absolute_altitudes_are_judged_above_home() -> None:
    high = MissionItem(2, 0, 16, lat=at(100, 0).lat, lon=at(100, 0).lon, alt=455.0 + 150)
    with pytest.raises(MissionInputError, match="altitude 150 m above home"):
        imports.check(file_with(high), 120.0, 455.0)
    imports.check(file_with(MissionItem(2, 0, 16, lat=at(100, 0).lat, lon=at(100, 0).lon,
                                        alt=455.0 + 100)), 120.0, 455.0)


def test_dispatch_re_estimates_from_where_the_drone_is_now() -> None:
    """The drone moved 600 m east after the import: the stored leg's path starts there, its
    home slot is the drone's home, the estimate grows; 5 km away it may not fly at all."""
    items = imports.with_drone_home(file_with(wp(2, 500), MissionItem(3, 3, 20)).items, DRONE)
    route = imports.flown(items, DRONE)
    leg = imports.leg_from(1, 1, items, route)
    moved = Drone("1", BASE, 100.0, position=at(0, 600), base_amsl_m=455.0)
    assert imports.refresh(leg, moved, "drone 1", 20_000.0, 25.0) is None
    assert leg.path[0] == pytest.approx([at(0, 600).lat, at(0, 600).lon])
    assert leg.items[0]["lat"] == round(BASE.lat, 7)
    assert leg.distance_m > route.distance_m + 200
    far = Drone("1", BASE, 100.0, position=at(0, 5000), base_amsl_m=455.0)
    why = imports.refresh(leg, far, "drone 1", 20_000.0, 25.0)
    assert why is not None and "km from drone 1" in why


def test_what_the_dispatch_check_refuses_anyway_is_refused_at_import_by_seq() -> None:
    bad_jump = file_with(wp(2, 100), MissionItem(3, 0, 177, 9.0, 2.0))
    with pytest.raises(MissionInputError, match=r"^\(body\): item 3 DO_JUMP \(177\): jump "):
        imports.check(bad_jump, 120.0, 455.0)
    here_home = file_with(wp(2, 100), MissionItem(3, 0, 179, 1.0))
    with pytest.raises(MissionInputError, match="item 3 DO_SET_HOME"):
        imports.check(here_home, 120.0, 455.0)
